#include "core/distributed/optimizer_shards.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "core/base/errors.h"

namespace rdpo {

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

int64_t OptimizerShards::all_gather_updates() {
  torch::NoGradGuard no_grad;
  if (segment_ == 0) return -1;
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
  return before >= 0 && after >= 0 ? after - before : -1;
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
