#include "core/distributed/all_reduce_sync.h"

namespace rdpo {

AllReduceSync::AllReduceSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params, int64_t bucket_bytes,
                             bool overlap_backward)
    : GradientSync(std::move(group), std::move(params), bucket_bytes, overlap_backward) {
  flats_.resize(buckets_.size());
  works_.resize(buckets_.size());
}

// Buckets start strictly in index order on every rank (Gloo pairs collectives by their order):
// a full bucket waits for the ones before it.
void AllReduceSync::on_bucket_complete_locked() {
  while (next_launch_ < buckets_.size() && pending_[next_launch_] == 0) {
    launch_locked(next_launch_);
    ++launched_in_backward_;
    ++next_launch_;
  }
}

void AllReduceSync::launch_locked(size_t b) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  parts.reserve(buckets_[b].size());
  for (size_t k : buckets_[b]) {
    zero_missing_grad(k);
    parts.push_back(params_[k].grad().reshape({-1}));
  }
  flats_[b] = parts.size() == 1 ? parts[0].clone() : at::cat(parts);
  works_[b] = group_->start_gradient_sum(flats_[b], "the gradient all-reduce");
}

void AllReduceSync::finish_locked(size_t b) {
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

std::exception_ptr AllReduceSync::finish_step_locked() {
  while (next_launch_ < buckets_.size()) launch_locked(next_launch_++);
  // Wait for every bucket even after a failure, so no all-reduce still writes into freed memory.
  std::exception_ptr error;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (!works_[b]) continue;
    try {
      finish_locked(b);
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
  return error;
}

}  // namespace rdpo
