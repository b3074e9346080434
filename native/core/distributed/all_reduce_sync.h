// The all-reduce strategy of core/distributed/gradient_sync.h: each bucket's gradients are copied
// into one flat tensor, summed over the ranks in place, and copied back; every rank ends the step
// with every summed gradient.
#pragma once
#include <memory>
#include <vector>

#include "core/distributed/gradient_sync.h"

namespace rdpo {

class AllReduceSync final : public GradientSync {
 public:
  AllReduceSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params, int64_t bucket_bytes,
                bool overlap_backward);

 private:
  void on_bucket_complete_locked() override;
  std::exception_ptr finish_step_locked() override;
  const char* collective() const override { return "all-reduce"; }
  int64_t collectives_per_step() const override { return num_buckets(); }

  void launch_locked(size_t bucket);
  void finish_locked(size_t bucket);  // copies a finished bucket's sums back and frees its buffers

  std::vector<at::Tensor> flats_;
  std::vector<std::unique_ptr<PendingReduce>> works_;
};

}  // namespace rdpo
