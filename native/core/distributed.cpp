#include "core/distributed.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "core/errors.h"

#ifdef RDPO_DATA_PARALLEL
#include <torch/csrc/distributed/c10d/HashStore.hpp>
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

#ifdef RDPO_DATA_PARALLEL

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

namespace {

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

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
    throw RangeError("RANK " + std::to_string(options.rank) + " is outside 0.." + std::to_string(options.world_size - 1));
  if (options.master_port <= 0 || options.master_port > 65535)
    throw RangeError("MASTER_PORT " + std::to_string(options.master_port) + " is not a TCP port");
  if (!(options.timeout_seconds > 0)) throw RangeError("the data-parallel timeout must be positive");
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
    throw std::runtime_error("rank " + std::to_string(options.rank) + ": the rendezvous at " + where + " (MASTER_ADDR:MASTER_PORT) failed within " +
                             std::to_string(static_cast<int64_t>(options.timeout_seconds)) + " s: " + short_message(e) +
                             (options.rank == 0 ? " (is the port free?)" : " (did rank 0 start, and can this machine reach it?)"));
  }
  try {
    auto opts = c10d::ProcessGroupGloo::Options::create(to_ms(options.timeout_seconds));
    opts->devices.push_back(gloo_device(options.master_addr));
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, static_cast<int>(options.rank),
                                                            static_cast<int>(options.world_size), opts);
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(options.rank) + ": connecting the Gloo process group (rendezvous " + where +
                             ") failed: " + short_message(e) + " (on several machines, set GLOO_SOCKET_IFNAME to the interface that reaches the others)");
  }
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::all_reduce(at::Tensor& tensor, ReduceOp op, const std::string& what) {
  std::vector<at::Tensor> one{tensor};
  all_reduce_many(one, op, what);
}

void ProcessGroup::all_reduce_many(std::vector<at::Tensor>& tensors, ReduceOp op, const std::string& what) {
  try {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    works.reserve(tensors.size());
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      c10d::AllreduceOptions o;
      o.reduceOp = to_c10d(op);
      works.push_back(impl_->pg->allreduce(one, o));
    }
    for (auto& w : works) w->wait();
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(options_.rank) + ": " + what + " failed (another rank died, or did not arrive within " +
                             std::to_string(static_cast<int64_t>(options_.timeout_seconds)) + " s): " + short_message(e));
  }
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int64_t root, const std::string& what) {
  try {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      works.push_back(impl_->pg->broadcast(one, o));
    }
    for (auto& w : works) w->wait();
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(options_.rank) + ": " + what + " failed: " + short_message(e));
  }
}

#else  // no gloo headers at build time

struct ProcessGroup::Impl {};

std::string data_parallel_self_test() { return not_built(); }

ProcessGroup::ProcessGroup(const ProcessGroupOptions& options) : options_(options) { throw std::runtime_error(not_built()); }
ProcessGroup::~ProcessGroup() = default;
void ProcessGroup::all_reduce(at::Tensor&, ReduceOp, const std::string&) { throw std::runtime_error(not_built()); }
void ProcessGroup::all_reduce_many(std::vector<at::Tensor>&, ReduceOp, const std::string&) { throw std::runtime_error(not_built()); }
void ProcessGroup::broadcast(std::vector<at::Tensor>&, int64_t, const std::string&) { throw std::runtime_error(not_built()); }

#endif

void ProcessGroup::check_same(const std::vector<double>& values, const std::string& what) {
  const int64_t n = static_cast<int64_t>(values.size());
  auto t = torch::empty({2 * n}, torch::kFloat64);
  auto* p = t.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    p[i] = values[i];
    p[n + i] = -values[i];
  }
  all_reduce(t, ReduceOp::Max, "the check of " + what);
  for (int64_t i = 0; i < n; ++i) {
    const double hi = p[i], lo = -p[n + i];
    if (hi != lo) {
      std::ostringstream msg;
      msg.precision(17);
      msg << "rank " << options_.rank << ": " << what << " differ across ranks (entry " << i << ": this rank has " << values[i]
          << ", the ranks range from " << lo << " to " << hi << "); every rank must be started with the same settings, data and model";
      throw ArgumentError(msg.str());
    }
  }
}

GradientSync::GradientSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params, int64_t bucket_bytes)
    : group_(std::move(group)), params_(std::move(params)) {
  if (bucket_bytes <= 0) throw RangeError("the gradient bucket size must be positive");
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
}

void GradientSync::reduce() {
  torch::NoGradGuard no_grad;
  if (!checked_) {
    std::vector<double> shape{static_cast<double>(params_.size()), static_cast<double>(buckets_.size())};
    double numel = 0, weighted = 0;
    for (size_t k = 0; k < params_.size(); ++k) {
      numel += static_cast<double>(params_[k].numel());
      weighted += static_cast<double>(params_[k].numel()) * static_cast<double>((k % 1009) + 1);
    }
    shape.push_back(numel);
    shape.push_back(weighted);
    group_->check_same(shape, "the trained parameters (count, buckets, elements)");
    checked_ = true;
  }
  std::vector<at::Tensor> flats;
  flats.reserve(buckets_.size());
  for (const auto& bucket : buckets_) {
    std::vector<at::Tensor> parts;
    parts.reserve(bucket.size());
    for (size_t k : bucket) {
      auto& p = params_[k];
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      parts.push_back(p.grad().reshape({-1}));
    }
    flats.push_back(parts.size() == 1 ? parts[0].clone() : at::cat(parts));
  }
  group_->all_reduce_many(flats, ReduceOp::Sum, "the gradient all-reduce");
  for (size_t b = 0; b < buckets_.size(); ++b) {
    int64_t offset = 0;
    for (size_t k : buckets_[b]) {
      auto g = params_[k].mutable_grad();
      const int64_t n = g.numel();
      g.view({-1}).copy_(flats[b].slice(0, offset, offset + n));
      offset += n;
    }
  }
}

void broadcast_from_rank0(ProcessGroup& group, const std::vector<at::Tensor>& tensors, int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<at::Tensor>> buckets(1);
  int64_t bytes = 0;
  for (const auto& t : tensors) {
    const int64_t b = t.numel() * static_cast<int64_t>(t.element_size());
    if (!buckets.back().empty() && (bytes + b > bucket_bytes || t.scalar_type() != buckets.back().front().scalar_type())) {
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

}  // namespace rdpo
