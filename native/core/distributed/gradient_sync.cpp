#include "core/distributed/gradient_sync.h"

#include <functional>
#include <stdexcept>

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include "core/base/errors.h"
#include "core/distributed/buckets.h"

namespace rdpo {
namespace {

// Called by autograd after a parameter's .grad has been accumulated (AccumulateGrad).
class BucketHook : public torch::autograd::PostAccumulateGradHook {
 public:
  BucketHook(std::function<void()> fn) : fn_(std::move(fn)) {}
  void operator()(const torch::autograd::Variable&) override { fn_(); }

 private:
  std::function<void()> fn_;
};

}  // namespace

GradientSync::GradientSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params, int64_t bucket_bytes,
                           bool overlap_backward)
    : group_(std::move(group)), bucket_bytes_(bucket_bytes), overlap_(overlap_backward) {
  if (bucket_bytes <= 0) throw RangeError("the gradient bucket size must be positive");
  // A tensor listed under two names (tied weights) is reduced once.
  for (auto& p : params) {
    bool seen = false;
    for (const auto& q : params_) seen = seen || q.unsafeGetTensorImpl() == p.unsafeGetTensorImpl();
    if (!seen) params_.push_back(p);
  }
  // Reverse registration order: roughly the order backward finishes the gradients.
  std::vector<size_t> order;
  for (size_t k = params_.size(); k-- > 0;) order.push_back(k);
  buckets_ = size_buckets(params_, order, bucket_bytes);
  bucket_of_.resize(params_.size());
  for (size_t b = 0; b < buckets_.size(); ++b)
    for (size_t k : buckets_[b]) bucket_of_[k] = b;
  pending_.resize(buckets_.size());
  if (overlap_) {
    for (size_t k = 0; k < params_.size(); ++k)
      torch::autograd::impl::set_post_acc_grad_hooks(params_[k],
                                                     std::make_unique<BucketHook>([this, k] { on_gradient(k); }));
  }
}

GradientSync::~GradientSync() {
  if (overlap_)
    for (auto& p : params_) torch::autograd::impl::set_post_acc_grad_hooks(p, nullptr);
}

void GradientSync::check_layout() {
  if (checked_) return;
  std::vector<double> shape{static_cast<double>(params_.size()), static_cast<double>(buckets_.size())};
  double numel = 0, weighted = 0;
  for (size_t k = 0; k < params_.size(); ++k) {
    numel += static_cast<double>(params_[k].numel());
    weighted += static_cast<double>(params_[k].numel()) * static_cast<double>((k % 1009) + 1);
  }
  shape.push_back(numel);
  shape.push_back(weighted);
  shape.push_back(layout_checksum());  // ZeRO-1 on every rank or on none, with the same owners
  group_->check_same(shape, "the trained parameters (count, buckets, elements, ZeRO-1 owners)",
                     /*gradient_group=*/true);
  checked_ = true;
}

void GradientSync::zero_missing_grad(size_t k) {
  auto& p = params_[k];
  if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
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
  if (pending_[b] > 0 && --pending_[b] == 0) on_bucket_complete_locked();
}

GradientSyncStats GradientSync::reduce() {
  torch::NoGradGuard no_grad;
  std::lock_guard<std::mutex> lock(mutex_);
  check_layout();
  if (bytes_at_start_ < 0) bytes_at_start_ = process_bytes_written();
  GradientSyncStats stats;
  stats.buckets = static_cast<int64_t>(buckets_.size());
  stats.collective = collective();
  for (const auto& p : params_) stats.gradient_elements += p.numel();
  stats.collectives = collectives_per_step();
  std::exception_ptr error = finish_step_locked();
  stats.started_in_backward = launched_in_backward_;
  armed_ = false;
  next_launch_ = 0;
  launched_in_backward_ = 0;
  const int64_t now = process_bytes_written();
  stats.gradient_bytes_sent = now >= 0 && bytes_at_start_ >= 0 ? now - bytes_at_start_ : -1;
  bytes_at_start_ = -1;
  if (error) std::rethrow_exception(error);
  return stats;
}

}  // namespace rdpo
