#include "core/distributed/distributed.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

#include "core/build_features.h"  // generated: RDPO_DATA_PARALLEL or RDPO_DATA_PARALLEL_MISSING
#include "core/base/errors.h"
#include "core/distributed/process_group_nccl.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

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

namespace {

// Called by autograd after a parameter's .grad has been accumulated (AccumulateGrad).
class BucketHook : public torch::autograd::PostAccumulateGradHook {
 public:
  BucketHook(std::function<void()> fn) : fn_(std::move(fn)) {}
  void operator()(const torch::autograd::Variable&) override { fn_(); }

 private:
  std::function<void()> fn_;
};

bool overlap_enabled() {
  const char* env = std::getenv("RDPO_DDP_OVERLAP");  // 0: all-reduce after backward (for A/B runs)
  return !(env && std::string(env) == "0");
}

}  // namespace

GradientSync::GradientSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params, int64_t bucket_bytes)
    : group_(std::move(group)), bucket_bytes_(bucket_bytes) {
  if (bucket_bytes <= 0) throw RangeError("the gradient bucket size must be positive");
  // A tensor listed under two names (tied weights) is reduced once.
  for (auto& p : params) {
    bool seen = false;
    for (const auto& q : params_) seen = seen || q.unsafeGetTensorImpl() == p.unsafeGetTensorImpl();
    if (!seen) params_.push_back(p);
  }
  // Reverse registration order: roughly the order backward finishes the gradients.
  std::vector<size_t> bucket;
  int64_t bytes = 0;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    const int64_t b = p.numel() * static_cast<int64_t>(p.element_size());
    if (!bucket.empty() && (bytes + b > bucket_bytes || p.scalar_type() != dtype)) {
      buckets_.push_back(std::move(bucket));
      bucket.clear();
      bytes = 0;
    }
    bucket.push_back(k);
    bytes += b;
    dtype = p.scalar_type();
  }
  if (!bucket.empty()) buckets_.push_back(std::move(bucket));
  bucket_of_.resize(params_.size());
  for (size_t b = 0; b < buckets_.size(); ++b)
    for (size_t k : buckets_[b]) bucket_of_[k] = b;
  pending_.resize(buckets_.size());
  flats_.resize(buckets_.size());
  works_.resize(buckets_.size());
  if (overlap_enabled()) {
    for (size_t k = 0; k < params_.size(); ++k)
      torch::autograd::impl::set_post_acc_grad_hooks(params_[k],
                                                     std::make_unique<BucketHook>([this, k] { on_gradient(k); }));
  }
}

GradientSync::~GradientSync() {
  if (overlap_enabled())
    for (auto& p : params_) torch::autograd::impl::set_post_acc_grad_hooks(p, nullptr);
}

void GradientSync::check_layout() {
  if (checked_) return;
  std::vector<double> shape{static_cast<double>(params_.size()), static_cast<double>(buckets_.size())};
  double numel = 0, weighted = 0, owners = 0;
  for (size_t k = 0; k < params_.size(); ++k) {
    numel += static_cast<double>(params_[k].numel());
    weighted += static_cast<double>(params_[k].numel()) * static_cast<double>((k % 1009) + 1);
    if (!owner_.empty()) owners += static_cast<double>(owner_[k] + 1) * static_cast<double>((k % 1009) + 1);
  }
  shape.push_back(numel);
  shape.push_back(weighted);
  shape.push_back(owners);  // ZeRO-1 on every rank or on none, with the same owners
  group_->check_same(shape, "the trained parameters (count, buckets, elements, ZeRO-1 owners)",
                     /*gradient_group=*/true);
  checked_ = true;
}

void GradientSync::shard(const OptimizerShards& shards) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (armed_ || checked_) throw std::logic_error("GradientSync::shard: call it before the first step");
  owner_.clear();
  for (const auto& p : params_) {
    const int64_t r = shards.owner_of(p);
    if (r < 0) throw std::logic_error("GradientSync::shard: a synchronised parameter has no owner");
    owner_.push_back(r);
  }
  const int64_t W = group_->world_size();
  counts_.assign(buckets_.size(), std::vector<int64_t>(static_cast<size_t>(W), 0));
  pieces_.assign(buckets_.size(), 1);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    int64_t largest = 0, element = 1;
    for (size_t k : buckets_[b]) {
      counts_[b][static_cast<size_t>(owner_[k])] += params_[k].numel();
      element = static_cast<int64_t>(params_[k].element_size());
    }
    for (auto c : counts_[b]) largest = std::max(largest, c);
    // A rank receives W copies of its part of a piece: at most about one bucket.
    const int64_t per_piece = std::max<int64_t>(1, bucket_bytes_ / (W * element));
    pieces_[b] = std::max<int64_t>(1, (largest + per_piece - 1) / per_piece);
  }
}

void GradientSync::arm() {
  std::lock_guard<std::mutex> lock(mutex_);
  check_layout();
  armed_ = true;
  bytes_at_start_ = process_bytes_written();
  for (size_t b = 0; b < buckets_.size(); ++b) pending_[b] = buckets_[b].size();
}

void GradientSync::on_gradient(size_t param) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) return;
  const size_t b = bucket_of_[param];
  if (pending_[b] > 0 && --pending_[b] == 0) launch_ready_locked();
}

// Buckets start strictly in index order on every rank (Gloo pairs collectives by their order):
// a full bucket waits for the ones before it.
void GradientSync::launch_ready_locked() {
  if (!owner_.empty()) {
    zero_reap_locked();
    return;
  }
  while (next_launch_ < buckets_.size() && pending_[next_launch_] == 0) {
    launch_locked(next_launch_);
    ++launched_in_backward_;
    ++next_launch_;
  }
}

void GradientSync::launch_locked(size_t b) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  parts.reserve(buckets_[b].size());
  for (size_t k : buckets_[b]) {
    auto& p = params_[k];
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    parts.push_back(p.grad().reshape({-1}));
  }
  flats_[b] = parts.size() == 1 ? parts[0].clone() : at::cat(parts);
  works_[b] = group_->start_gradient_sum(flats_[b], "the gradient all-reduce");
}

void GradientSync::finish_locked(size_t b) {
  torch::NoGradGuard no_grad;
  auto work = std::move(works_[b]);
  auto flat = std::move(flats_[b]);
  work->wait();
  int64_t offset = 0;
  for (size_t k : buckets_[b]) {
    auto g = params_[k].mutable_grad();
    const int64_t n = g.numel();
    g.view({-1}).copy_(flat.slice(0, offset, offset + n));
    offset += n;
  }
}

template <typename Fn>
void GradientSync::zero_overlaps(size_t b, int64_t r, int64_t start, int64_t end, Fn&& fn) const {
  int64_t offset = 0;  // of tensor k within r's part
  for (size_t k : buckets_[b]) {
    if (owner_[k] != r) continue;
    const int64_t n = params_[k].numel();
    const int64_t lo = std::max(start, offset), hi = std::min(end, offset + n);
    if (lo < hi) fn(k, lo - offset, hi - offset, lo - start);
    offset += n;
  }
}

// Pieces in flight: each holds about two buckets (send and receive), so this bounds the buffers.
// The backward hooks only see a piece finish when the next gradient arrives, so a deeper queue
// lets more buckets start during backward (64 KiB buckets in the test: 2 of 7 with two in flight,
// 4 of 7 with four).
constexpr size_t kPiecesInFlight = 4;

bool GradientSync::zero_can_launch_locked() const {
  return next_launch_ < buckets_.size() && (!armed_ || pending_[next_launch_] == 0) &&
         in_flight_.size() < kPiecesInFlight;
}

void GradientSync::zero_launch_locked() {
  torch::NoGradGuard no_grad;
  const size_t b = next_launch_;
  const int64_t j = next_piece_, J = pieces_[b], W = group_->world_size(), me = group_->rank();
  if (j == 0) {
    for (size_t k : buckets_[b])
      if (!params_[k].grad().defined()) params_[k].mutable_grad() = torch::zeros_like(params_[k]);
    if (armed_) ++launched_in_backward_;
  }
  // Piece j of every rank's part, by destination rank.
  std::vector<int64_t> counts(static_cast<size_t>(W));
  int64_t total = 0;
  for (int64_t r = 0; r < W; ++r) {
    const int64_t c = counts_[b][static_cast<size_t>(r)];
    counts[static_cast<size_t>(r)] = c * (j + 1) / J - c * j / J;
    total += counts[static_cast<size_t>(r)];
  }
  auto input = torch::empty({total}, params_[buckets_[b].front()].grad().options());
  int64_t at = 0;
  for (int64_t r = 0; r < W; ++r) {
    const int64_t c = counts_[b][static_cast<size_t>(r)], start = c * j / J, end = c * (j + 1) / J;
    zero_overlaps(b, r, start, end, [&](size_t k, int64_t lo, int64_t hi, int64_t off) {
      input.slice(0, at + off, at + off + hi - lo).copy_(params_[k].grad().view({-1}).slice(0, lo, hi));
    });
    at += end - start;
  }
  Piece piece;
  piece.bucket = b;
  piece.index = j;
  piece.work = group_->start_gradient_reduce_scatter(std::move(input), counts, "the gradient reduce-scatter");
  in_flight_.push_back(std::move(piece));
  if (++next_piece_ == J) {
    // The other ranks' gradients are all handed over: this rank no longer holds them.
    for (size_t k : buckets_[b])
      if (owner_[k] != me) params_[k].mutable_grad() = at::Tensor();
    next_piece_ = 0;
    ++next_launch_;
  }
}

void GradientSync::zero_finish_locked(Piece& piece) {
  torch::NoGradGuard no_grad;
  auto work = std::move(piece.work);
  work->wait();
  const auto sums = work->result();
  const size_t b = piece.bucket;
  const int64_t me = group_->rank(), J = pieces_[b], c = counts_[b][static_cast<size_t>(me)];
  zero_overlaps(b, me, c * piece.index / J, c * (piece.index + 1) / J,
                [&](size_t k, int64_t lo, int64_t hi, int64_t off) {
                  params_[k].mutable_grad().view({-1}).slice(0, lo, hi).copy_(sums.slice(0, off, off + hi - lo));
                });
}

// From the backward hooks: pieces that have completed free their buffers, and the next ones start.
void GradientSync::zero_reap_locked() {
  for (;;) {
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      if (!it->work->ready()) {
        ++it;
        continue;
      }
      try {
        zero_finish_locked(*it);
      } catch (...) {
        if (!reap_error_) reap_error_ = std::current_exception();  // rethrown by reduce()
      }
      it = in_flight_.erase(it);
    }
    if (reap_error_ || !zero_can_launch_locked()) return;
    while (!reap_error_ && zero_can_launch_locked()) zero_launch_locked();
  }
}

void GradientSync::reduce() {
  torch::NoGradGuard no_grad;
  std::lock_guard<std::mutex> lock(mutex_);
  check_layout();
  if (bytes_at_start_ < 0) bytes_at_start_ = process_bytes_written();
  auto& stats = group_->last_gradient_sync;
  stats.buckets = static_cast<int64_t>(buckets_.size());
  stats.collective = owner_.empty() ? "all-reduce" : "reduce-scatter";
  stats.parameter_bytes_sent = -1;
  stats.gradient_elements = 0;
  for (const auto& p : params_) stats.gradient_elements += p.numel();
  stats.collectives = static_cast<int64_t>(buckets_.size());
  if (!owner_.empty()) {
    stats.collectives = 0;
    for (auto j : pieces_) stats.collectives += j;
  }
  std::exception_ptr error;
  if (owner_.empty()) {
    overlapped_ = launched_in_backward_;
    while (next_launch_ < buckets_.size()) launch_locked(next_launch_++);
    // Wait for every bucket even after a failure, so no all-reduce still writes into freed memory.
    for (size_t b = 0; b < buckets_.size(); ++b) {
      if (!works_[b]) continue;
      try {
        finish_locked(b);
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
  } else {
    armed_ = false;  // every bucket is complete now
    error = reap_error_;
    reap_error_ = nullptr;
    // Launch the rest in order, at most kPiecesInFlight in flight; after a failure only wait for what is in flight.
    for (;;) {
      while (!error && zero_can_launch_locked()) zero_launch_locked();
      if (in_flight_.empty()) break;
      try {
        zero_finish_locked(in_flight_.front());
      } catch (...) {
        if (!error) error = std::current_exception();
      }
      in_flight_.erase(in_flight_.begin());
    }
    overlapped_ = launched_in_backward_;
  }
  stats.started_in_backward = overlapped_;
  armed_ = false;
  next_launch_ = 0;
  next_piece_ = 0;
  launched_in_backward_ = 0;
  const int64_t now = process_bytes_written();
  stats.gradient_bytes_sent = now >= 0 && bytes_at_start_ >= 0 ? now - bytes_at_start_ : -1;
  bytes_at_start_ = -1;
  if (error) std::rethrow_exception(error);
}

void broadcast_from_rank0(ProcessGroup& group, const std::vector<at::Tensor>& tensors, int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<at::Tensor>> buckets(1);
  int64_t bytes = 0;
  for (const auto& t : tensors) {
    const int64_t b = t.numel() * static_cast<int64_t>(t.element_size());
    if (!buckets.back().empty() &&
        (bytes + b > bucket_bytes || t.scalar_type() != buckets.back().front().scalar_type())) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(t.detach());
    bytes += b;
  }
  std::vector<double> shape{static_cast<double>(tensors.size())};
  group.check_same(shape, "the number of model tensors");
  if (tensors.empty()) return;
  std::vector<at::Tensor> flats;
  for (const auto& bucket : buckets) {
    std::vector<at::Tensor> parts;
    for (const auto& t : bucket) parts.push_back(t.reshape({-1}));
    flats.push_back(at::cat(parts));
  }
  group.broadcast(flats, 0, "the broadcast of rank 0's weights");
  for (size_t b = 0; b < buckets.size(); ++b) {
    int64_t offset = 0;
    for (auto& t : buckets[b]) {
      const int64_t n = t.numel();
      t.view({-1}).copy_(flats[b].slice(0, offset, offset + n));
      offset += n;
    }
  }
}

OptimizerShards::OptimizerShards(std::shared_ptr<ProcessGroup> group,
                                 std::vector<std::pair<std::string, at::Tensor>> named, int64_t gather_bytes)
    : group_(std::move(group)), named_(std::move(named)), gather_bytes_(gather_bytes) {
  if (gather_bytes_ <= 0) throw RangeError("the all-gather piece size must be positive");
  // Greedy by size, in parameter order: deterministic, so every rank computes the same owners.
  std::vector<int64_t> load(static_cast<size_t>(group_->world_size()), 0);
  for (const auto& [name, p] : named_) {
    if (p.scalar_type() != named_.front().second.scalar_type())
      throw ArgumentError("ZeRO-1: the trained parameters must share one dtype ('" + name + "' is " +
                          c10::toString(p.scalar_type()) + ")");
    size_t best = 0;
    for (size_t r = 1; r < load.size(); ++r)
      if (load[r] < load[best]) best = r;
    owner_.push_back(static_cast<int64_t>(best));
    offset_.push_back(load[best]);
    load[best] += p.numel();
  }
  for (auto l : load) segment_ = std::max(segment_, l);
}

int64_t OptimizerShards::rank() const { return group_->rank(); }

std::vector<std::pair<std::string, at::Tensor>> OptimizerShards::owned() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (size_t k = 0; k < named_.size(); ++k)
    if (owner_[k] == group_->rank()) out.push_back(named_[k]);
  return out;
}

int64_t OptimizerShards::owner_of(const at::Tensor& p) const {
  for (size_t k = 0; k < named_.size(); ++k)
    if (named_[k].second.unsafeGetTensorImpl() == p.unsafeGetTensorImpl()) return owner_[k];
  return -1;
}

double OptimizerShards::clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  const int64_t me = group_->rank();
  std::vector<at::Tensor> grads;
  std::vector<int64_t> index;
  for (size_t i = 0; i < params.size(); ++i) {
    if (owner_of(params[i]) != me || !params[i].grad().defined()) continue;
    grads.push_back(params[i].grad());
    index.push_back(static_cast<int64_t>(i));
  }
  // Per-tensor norms as rdpo::clip_grad_norm computes them (float32, then float64), each in its
  // tensor's slot; the sum over the ranks fills the other slots (x + 0 is exact).
  auto norms = torch::zeros({static_cast<int64_t>(params.size())}, torch::kFloat64);
  if (!grads.empty()) {
    auto mine = at::stack(at::_foreach_norm(grads, 2)).to(torch::kFloat64);
    norms.index_put_({torch::tensor(index, torch::kLong)}, mine);
  }
  group_->all_reduce(norms, ReduceOp::Sum, "the all-reduce of the gradient norms");
  if (params.empty()) return 0.0;
  const double total = norms.pow(2).sum().sqrt().item<double>();
  if (max_norm > 0 && std::isfinite(total) && total > max_norm && !grads.empty())
    at::_foreach_mul_(grads, max_norm / (total + 1e-6));
  return total;
}

void OptimizerShards::all_gather_updates() {
  torch::NoGradGuard no_grad;
  if (segment_ == 0) return;
  const int64_t before = process_bytes_written();
  const int64_t W = group_->world_size(), me = group_->rank();
  const auto options = named_.front().second.options();
  const int64_t piece =
      std::max<int64_t>(1, gather_bytes_ / (W * static_cast<int64_t>(named_.front().second.element_size())));
  for (int64_t start = 0; start < segment_; start += piece) {
    const int64_t n = std::min(piece, segment_ - start);
    // The part [start, start + n) of each rank's segment; parameters overlapping it are copied.
    auto overlap = [&](size_t k, int64_t& lo, int64_t& hi) {
      lo = std::max(start, offset_[k]);
      hi = std::min(start + n, offset_[k] + named_[k].second.numel());
      return lo < hi;
    };
    auto input = torch::zeros({n}, options);  // the padding past this rank's load stays zero
    int64_t lo = 0, hi = 0;
    for (size_t k = 0; k < named_.size(); ++k)
      if (owner_[k] == me && overlap(k, lo, hi))
        input.slice(0, lo - start, hi - start)
            .copy_(named_[k].second.detach().reshape({-1}).slice(0, lo - offset_[k], hi - offset_[k]));
    auto output = torch::empty({W * n}, options);
    group_->all_gather(input, output, "the all-gather of the updated parameters");
    for (size_t k = 0; k < named_.size(); ++k) {
      if (owner_[k] == me || !overlap(k, lo, hi)) continue;
      auto p = named_[k].second.detach();
      p.view({-1})
          .slice(0, lo - offset_[k], hi - offset_[k])
          .copy_(output.slice(0, owner_[k] * n + lo - start, owner_[k] * n + hi - start));
    }
  }
  const int64_t after = process_bytes_written();
  group_->last_gradient_sync.parameter_bytes_sent = before >= 0 && after >= 0 ? after - before : -1;
}

std::vector<std::pair<std::string, at::Tensor>> OptimizerShards::gather_state(
    const std::vector<std::pair<std::string, at::Tensor>>& local) const {
  torch::NoGradGuard no_grad;
  std::map<std::string, at::Tensor> mine(local.begin(), local.end());
  const bool root = group_->rank() == 0;
  std::vector<std::pair<std::string, at::Tensor>> out;
  // Per parameter, as AdamW::state() names them: exp_avg and exp_avg_sq (its shape), step ([1]).
  const char* kSuffixes[] = {".exp_avg", ".exp_avg_sq", ".step"};
  for (int64_t r = 0; r < group_->world_size(); ++r) {
    std::vector<std::pair<std::string, std::vector<int64_t>>> layout;
    int64_t total = 0;
    for (size_t k = 0; k < named_.size(); ++k) {
      if (owner_[k] != r) continue;
      for (const char* suffix : kSuffixes) {
        std::vector<int64_t> shape =
            std::string(suffix) == ".step" ? std::vector<int64_t>{1} : named_[k].second.sizes().vec();
        int64_t n = 1;
        for (auto d : shape) n *= d;
        layout.emplace_back(named_[k].first + suffix, shape);
        total += n;
      }
    }
    if (layout.empty()) continue;
    at::Tensor flat;
    if (r == group_->rank()) {
      std::vector<at::Tensor> parts;
      for (const auto& [name, shape] : layout) {
        auto it = mine.find(name);
        if (it == mine.end()) throw std::logic_error("optimizer shard: no state for " + name);
        parts.push_back(it->second.to(torch::kFloat32).reshape({-1}));
      }
      flat = at::cat(parts);
    } else {
      flat = torch::empty({total}, torch::kFloat32);
    }
    std::vector<at::Tensor> one{flat};
    group_->broadcast(one, r, "gathering rank " + std::to_string(r) + "'s optimizer state");
    if (!root) continue;
    int64_t offset = 0;
    for (const auto& [name, shape] : layout) {
      int64_t n = 1;
      for (auto d : shape) n *= d;
      out.emplace_back(name, flat.slice(0, offset, offset + n).reshape(shape).clone());
      offset += n;
    }
  }
  if (root) {
    auto it = mine.find("__step__");
    if (it == mine.end()) throw std::logic_error("optimizer shard: no __step__");
    out.emplace_back("__step__", it->second);
  }
  return out;
}

}  // namespace rdpo
