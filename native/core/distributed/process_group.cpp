#include "core/distributed/process_group.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "core/build_features.h"  // generated: RDPO_DATA_PARALLEL or RDPO_DATA_PARALLEL_MISSING
#include "core/base/errors.h"
#include "core/distributed/buckets.h"
#include "core/distributed/process_group_nccl.h"

#ifdef RDPO_DATA_PARALLEL
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace rdpo {

#ifndef RDPO_DATA_PARALLEL_MISSING
#define RDPO_DATA_PARALLEL_MISSING ""
#endif

DataParallelSupport data_parallel_support() {
  DataParallelSupport s;
#ifdef RDPO_DATA_PARALLEL
  s.compiled = true;
  s.backend = "gloo";
#else
  s.missing = RDPO_DATA_PARALLEL_MISSING;
#endif
  const NcclSupport n = nccl_support();
  s.nccl = n.compiled;
  s.nccl_version = n.header_version;
  s.nccl_missing = n.missing;
  return s;
}

namespace {

std::string not_built() {
  return std::string("this rdpo-native addon was built without data-parallel training: ") + RDPO_DATA_PARALLEL_MISSING;
}

// c10d's messages carry a C++ backtrace; the first part is what a user can act on.
std::string short_message(const std::exception& e) {
  if (auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

}  // namespace

int64_t process_bytes_written() {
  std::ifstream io("/proc/self/io");
  std::string key;
  int64_t value = 0;
  while (io >> key >> value)
    if (key == "wchar:") return value;
  return -1;
}

#ifdef RDPO_DATA_PARALLEL

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> control, gradients;
  std::string backend = "gloo";
  at::Device device{at::kCPU};
};

namespace {

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

// GLOO_SOCKET_IFNAME (torch's variable) picks the interface; a loopback master means one machine;
// otherwise this machine's hostname decides (c10d's default device).
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (is_loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10d::ReduceOp to_c10d(ReduceOp op) {
  return op == ReduceOp::Max ? c10d::ReduceOp(c10d::ReduceOp::MAX) : c10d::ReduceOp(c10d::ReduceOp::SUM);
}

}  // namespace

std::string data_parallel_self_test() {
  try {
    auto store = c10::make_intrusive<c10d::HashStore>();
    auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(10));
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, 0, 1, opts);
    std::vector<at::Tensor> t{torch::arange(1, 5, torch::kFloat32)};
    pg->allreduce(t)->wait();
    if (!t[0].equal(torch::arange(1, 5, torch::kFloat32))) return "a one-rank Gloo all-reduce changed its input";
    return "";
  } catch (const std::exception& e) {
    return "a one-rank Gloo all-reduce failed: " + short_message(e);
  }
}

ProcessGroup::ProcessGroup(const ProcessGroupOptions& options) : options_(options), impl_(std::make_unique<Impl>()) {
  if (options.world_size < 1) throw RangeError("WORLD_SIZE must be at least 1");
  if (options.rank < 0 || options.rank >= options.world_size)
    throw RangeError("RANK " + std::to_string(options.rank) + " is outside 0.." +
                     std::to_string(options.world_size - 1));
  if (options.master_port <= 0 || options.master_port > 65535)
    throw RangeError("MASTER_PORT " + std::to_string(options.master_port) + " is not a TCP port");
  if (!(options.timeout_seconds > 0)) throw RangeError("the data-parallel timeout must be positive");
  // The backend follows the device: NCCL for CUDA tensors, Gloo for CPU ones.
  try {
    impl_->device = at::Device(options.device);
  } catch (const std::exception& e) {
    throw RangeError("the data-parallel device '" + options.device +
                     "' is not a device (cpu or cuda:N): " + short_message(e));
  }
  if (!impl_->device.is_cpu() && !impl_->device.is_cuda())
    throw RangeError("data-parallel training runs on cpu (Gloo) or cuda:N (NCCL), not " + impl_->device.str());
  if (impl_->device.is_cuda() && !nccl_support().compiled)
    throw std::runtime_error("data-parallel training on " + impl_->device.str() +
                             " needs ProcessGroupNCCL, which this rdpo-native addon was built without: " +
                             nccl_support().missing + " (docs/distributed.md)");
  const std::string where = options.master_addr + ":" + std::to_string(options.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(options.master_port);
    so.isServer = options.rank == 0;
    so.numWorkers = static_cast<std::size_t>(options.world_size);
    so.waitWorkers = true;
    so.timeout = to_ms(options.timeout_seconds);
    impl_->store = c10::make_intrusive<c10d::TCPStore>(options.master_addr, so);
  } catch (const std::exception& e) {
    throw std::runtime_error(
        "rank " + std::to_string(options.rank) + ": the rendezvous at " + where +
        " (MASTER_ADDR:MASTER_PORT) failed within " + std::to_string(static_cast<int64_t>(options.timeout_seconds)) +
        " s: " + short_message(e) +
        (options.rank == 0 ? " (is the port free?)" : " (did rank 0 start, and can this machine reach it?)"));
  }
  if (impl_->device.is_cuda()) {
    if (!impl_->device.has_index()) impl_->device = at::Device(at::kCUDA, 0);
    impl_->backend = "nccl";
    try {
      auto make_group = [&](const std::string& prefix) {
        auto store = c10::make_intrusive<c10d::PrefixStore>(prefix, impl_->store);
        return make_nccl_backend(store, static_cast<int>(options.rank), static_cast<int>(options.world_size),
                                 to_ms(options.timeout_seconds), impl_->device);
      };
      impl_->control = make_group("rdpo/control");
      impl_->gradients = make_group("rdpo/gradients");
    } catch (const std::exception& e) {
      throw std::runtime_error("rank " + std::to_string(options.rank) + ": connecting the NCCL process group on " +
                               impl_->device.str() + " (rendezvous " + where + ") failed (timeout " +
                               std::to_string(static_cast<int64_t>(options.timeout_seconds)) +
                               " s): " + short_message(e) +
                               " (NCCL_DEBUG=WARN says more; across machines NCCL_SOCKET_IFNAME picks the interface)");
    }
    return;
  }
  try {
    auto make_group = [&](const std::string& prefix) {
      auto opts = c10d::ProcessGroupGloo::Options::create(to_ms(options.timeout_seconds));
      opts->devices.push_back(gloo_device(options.master_addr));
      auto store = c10::make_intrusive<c10d::PrefixStore>(prefix, impl_->store);
      return c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(options.rank),
                                                         static_cast<int>(options.world_size), opts);
    };
    impl_->control = make_group("rdpo/control");
    impl_->gradients = make_group("rdpo/gradients");
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(options.rank) +
                             ": connecting the Gloo process group (rendezvous " + where +
                             ") failed: " + short_message(e) +
                             " (on several machines, set GLOO_SOCKET_IFNAME to the interface that reaches the others)");
  }
}

ProcessGroup::~ProcessGroup() = default;

const std::string& ProcessGroup::backend() const { return impl_->backend; }

namespace {

std::string collective_failed(int64_t rank, const std::string& what, double timeout, const std::exception& e) {
  return "rank " + std::to_string(rank) + ": " + what + " failed (another rank died, or did not arrive within " +
         std::to_string(static_cast<int64_t>(timeout)) + " s): " + short_message(e);
}

class WorkPending : public PendingReduce {
 public:
  WorkPending(c10::intrusive_ptr<c10d::Work> work, std::string error_prefix)
      : work_(std::move(work)), prefix_(std::move(error_prefix)) {}
  void wait() override {
    try {
      work_->wait();
    } catch (const std::exception& e) {
      throw std::runtime_error(prefix_ + short_message(e));
    }
  }
  bool ready() override { return work_->isCompleted(); }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::string prefix_;
};

// The all-to-all of a reduce-scatter: `received` holds every rank's copy of this rank's segment,
// in rank order; wait() sums them in that order into the first.
class GlooAllToAllSum : public PendingReduce {
 public:
  GlooAllToAllSum(c10::intrusive_ptr<c10d::Work> work, at::Tensor input, at::Tensor received, int64_t ranks,
                  std::string error_prefix)
      : work_(std::move(work)),
        input_(std::move(input)),
        received_(std::move(received)),
        ranks_(ranks),
        prefix_(std::move(error_prefix)) {}
  void wait() override {
    if (sum_.defined()) return;
    try {
      work_->wait();
    } catch (const std::exception& e) {
      throw std::runtime_error(prefix_ + short_message(e));
    }
    torch::NoGradGuard no_grad;
    const int64_t n = received_.numel() / ranks_;
    sum_ = received_.narrow(0, 0, n);
    for (int64_t r = 1; r < ranks_; ++r) sum_.add_(received_.narrow(0, r * n, n));
    input_ = at::Tensor();
  }
  bool ready() override { return work_->isCompleted(); }
  at::Tensor result() override { return sum_; }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  at::Tensor input_, received_, sum_;
  int64_t ranks_;
  std::string prefix_;
};

}  // namespace

void ProcessGroup::all_reduce(at::Tensor& tensor, ReduceOp op, const std::string& what) {
  all_reduce_on(false, tensor, op, what);
}

void ProcessGroup::all_reduce_on(bool gradient_group, at::Tensor& tensor, ReduceOp op, const std::string& what) {
  try {
    // On the group's device (NCCL: the rank's GPU); a CPU tensor goes there and back.
    std::vector<at::Tensor> one{tensor.device() == impl_->device ? tensor : tensor.to(impl_->device)};
    c10d::AllreduceOptions o;
    o.reduceOp = to_c10d(op);
    (gradient_group ? impl_->gradients : impl_->control)->allreduce(one, o)->wait();
    if (!one[0].is_same(tensor)) tensor.copy_(one[0]);
  } catch (const std::exception& e) {
    throw std::runtime_error(collective_failed(options_.rank, what, options_.timeout_seconds, e));
  }
}

std::unique_ptr<PendingReduce> ProcessGroup::start_gradient_sum(at::Tensor tensor, const std::string& what) {
  if (tensor.device() != impl_->device)
    throw std::runtime_error("rank " + std::to_string(options_.rank) + ": " + what + ": the gradients are on " +
                             tensor.device().str() + ", but the " + impl_->backend + " group runs on " +
                             impl_->device.str() + " (the model must be on the group's device)");
  std::vector<at::Tensor> one{std::move(tensor)};
  try {
    auto work = impl_->gradients->allreduce(one);
    std::string prefix = "rank " + std::to_string(options_.rank) + ": " + what +
                         " failed (another rank died, or did not arrive within " +
                         std::to_string(static_cast<int64_t>(options_.timeout_seconds)) + " s): ";
    return std::make_unique<WorkPending>(std::move(work), std::move(prefix));
  } catch (const std::exception& e) {
    throw std::runtime_error(collective_failed(options_.rank, what, options_.timeout_seconds, e));
  }
}

// Gloo's reduce-scatter is not one on the wire. In the pip torch 2.13 wheel ProcessGroupGloo
// implements reduce_scatter, _reduce_scatter_base and reduce_scatter_tensor_coalesced, and
// they give the right sums, but each rank sends as many bytes as an all-reduce of the whole input
// (measured with /proc/self/io on two ranks and 16 MB: all-reduce 1.0 N, _reduce_scatter_base
// 1.0 N, the list form 1.0 N, and a reduce of each half to its owner 1.0 N in all; an ideal
// reduce-scatter sends 0.5 N). Its all-to-all does send only what the other ranks need (0.5 N), so
// the reduce-scatter here is an all-to-all (alltoall_base, with per-rank counts, so the segments
// need no padding) followed by a local sum of the received copies: (W−1)/W of the input leaves
// each rank, the volume of a ring reduce-scatter. A backend with a real reduce-scatter (NCCL's
// _reduce_scatter_base) can replace this function without changing its callers.
std::unique_ptr<PendingReduce> ProcessGroup::start_gradient_reduce_scatter(at::Tensor input,
                                                                           const std::vector<int64_t>& counts,
                                                                           const std::string& what) {
  const int64_t W = options_.world_size;
  if (static_cast<int64_t>(counts.size()) != W) throw std::logic_error("reduce-scatter: one count per rank expected");
  int64_t total = 0;
  for (auto c : counts) total += c;
  if (total != input.numel()) throw std::logic_error("reduce-scatter: the counts do not add up to the input");
  const int64_t mine = counts[static_cast<size_t>(options_.rank)];
  try {
    auto received = torch::empty({W * mine}, input.options());
    std::vector<int64_t> in_counts(counts), out_counts(static_cast<size_t>(W), mine);
    auto work = impl_->gradients->alltoall_base(received, input, out_counts, in_counts);
    std::string prefix = "rank " + std::to_string(options_.rank) + ": " + what +
                         " failed (another rank died, or did not arrive within " +
                         std::to_string(static_cast<int64_t>(options_.timeout_seconds)) + " s): ";
    return std::make_unique<GlooAllToAllSum>(std::move(work), std::move(input), std::move(received), W,
                                             std::move(prefix));
  } catch (const std::exception& e) {
    throw std::runtime_error(collective_failed(options_.rank, what, options_.timeout_seconds, e));
  }
}

void ProcessGroup::all_gather(at::Tensor& input, at::Tensor& output, const std::string& what) {
  if (output.numel() != input.numel() * options_.world_size)
    throw std::logic_error("all-gather: the output must hold world_size inputs");
  try {
    impl_->control->_allgather_base(output, input)->wait();
  } catch (const std::exception& e) {
    throw std::runtime_error(collective_failed(options_.rank, what, options_.timeout_seconds, e));
  }
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int64_t root, const std::string& what) {
  try {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    std::vector<at::Tensor> on;  // on the group's device (a CPU tensor goes there and back)
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t.device() == impl_->device ? t : t.to(impl_->device)};
      on.push_back(one[0]);
      c10d::BroadcastOptions o;
      o.rootRank = root;
      works.push_back(impl_->control->broadcast(one, o));
    }
    for (auto& w : works) w->wait();
    for (size_t i = 0; i < tensors.size(); ++i)
      if (!on[i].is_same(tensors[i])) tensors[i].copy_(on[i]);
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(options_.rank) + ": " + what + " failed: " + short_message(e));
  }
}

#else  // no gloo headers at build time

struct ProcessGroup::Impl {};

std::string data_parallel_self_test() { return not_built(); }

ProcessGroup::ProcessGroup(const ProcessGroupOptions& options) : options_(options) {
  throw std::runtime_error(not_built());
}
ProcessGroup::~ProcessGroup() = default;
const std::string& ProcessGroup::backend() const { throw std::runtime_error(not_built()); }
void ProcessGroup::all_reduce(at::Tensor&, ReduceOp, const std::string&) { throw std::runtime_error(not_built()); }
void ProcessGroup::all_reduce_on(bool, at::Tensor&, ReduceOp, const std::string&) {
  throw std::runtime_error(not_built());
}
void ProcessGroup::broadcast(std::vector<at::Tensor>&, int64_t, const std::string&) {
  throw std::runtime_error(not_built());
}
std::unique_ptr<PendingReduce> ProcessGroup::start_gradient_sum(at::Tensor, const std::string&) {
  throw std::runtime_error(not_built());
}
std::unique_ptr<PendingReduce> ProcessGroup::start_gradient_reduce_scatter(at::Tensor, const std::vector<int64_t>&,
                                                                           const std::string&) {
  throw std::runtime_error(not_built());
}
void ProcessGroup::all_gather(at::Tensor&, at::Tensor&, const std::string&) { throw std::runtime_error(not_built()); }

#endif

void ProcessGroup::check_same(const std::vector<double>& values, const std::string& what, bool gradient_group) {
  const int64_t n = static_cast<int64_t>(values.size());
  auto t = torch::empty({2 * n}, torch::kFloat64);
  auto* p = t.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    p[i] = values[i];
    p[n + i] = -values[i];
  }
  all_reduce_on(gradient_group, t, ReduceOp::Max, "the check of " + what);
  for (int64_t i = 0; i < n; ++i) {
    const double hi = p[i], lo = -p[n + i];
    if (hi != lo) {
      std::ostringstream msg;
      msg.precision(17);
      msg << "rank " << options_.rank << ": " << what << " differ across ranks (entry " << i << ": this rank has "
          << values[i] << ", the ranks range from " << lo << " to " << hi
          << "); every rank must be started with the same settings, data and model";
      throw ArgumentError(msg.str());
    }
  }
}

void broadcast_from_rank0(ProcessGroup& group, const std::vector<at::Tensor>& tensors, int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t(0));
  const auto buckets = size_buckets(tensors, order, bucket_bytes);
  std::vector<double> shape{static_cast<double>(tensors.size())};
  group.check_same(shape, "the number of model tensors");
  if (tensors.empty()) return;
  std::vector<at::Tensor> flats;
  for (const auto& bucket : buckets) {
    std::vector<at::Tensor> parts;
    for (size_t k : bucket) parts.push_back(tensors[k].detach().reshape({-1}));
    flats.push_back(at::cat(parts));
  }
  group.broadcast(flats, 0, "the broadcast of rank 0's weights");
  for (size_t b = 0; b < buckets.size(); ++b) {
    int64_t offset = 0;
    for (size_t k : buckets[b]) {
      auto t = tensors[k].detach();
      const int64_t n = t.numel();
      t.view({-1}).copy_(flats[b].slice(0, offset, offset + n));
      offset += n;
    }
  }
}

}  // namespace rdpo
