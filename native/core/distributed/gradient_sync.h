// Gradients in data-parallel training: each rank scales its loss by its share of the global
// micro-batch, so the sum of the ranks' gradients is the global mean. A GradientSync sums them
// in buckets of about `bucket_bytes` (core/distributed/buckets.h), in reverse registration order
// (the order backward produces them). Two strategies sit behind this interface:
//   AllReduceSync (all_reduce_sync.h): every rank receives every sum;
//   ReduceScatterSync (reduce_scatter_sync.h, ZeRO-1): each rank receives the sums of the tensors
//     it owns (core/distributed/optimizer_shards.h) only.
// This class holds what they share: the buckets, the backward hooks that start a bucket's
// collective as soon as its gradients are final (overlap), the layout check, and the statistics
// each reduce() returns.
#pragma once
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/distributed/process_group.h"

namespace rdpo {

// One optimiser step's gradient synchronisation: its buckets, how many started during backward
// (overlapped), which collective, the bytes this process sent while the gradient collectives ran
// and while ZeRO-1 all-gathered the parameters (process_bytes_written() deltas; -1: not measured
// or no all-gather).
struct GradientSyncStats {
  int64_t buckets = 0;
  int64_t started_in_backward = 0;
  std::string collective = "all-reduce";  // or "reduce-scatter"
  int64_t gradient_bytes_sent = -1;
  int64_t parameter_bytes_sent = -1;
  int64_t gradient_elements = 0;  // summed gradient elements (the full trained parameter count)
  int64_t collectives = 0;        // gradient collectives launched (ZeRO-1: pieces of buckets)
};

class GradientSync {
 public:
  // `overlap_backward`: start each bucket's collective from backward as it fills (false: all of
  // them after backward, in reduce(); lib/train/data_parallel.ts reads RDPO_DDP_OVERLAP for it).
  GradientSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params, int64_t bucket_bytes,
               bool overlap_backward);
  virtual ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Call before the backward of the last micro-batch of a step: as each bucket's gradients are
  // final, its collective starts (in bucket order on every rank), overlapping the rest of backward.
  void arm();
  // Sums every parameter's gradient over the ranks (a missing gradient counts as zeros and is
  // created): starts the buckets not yet started, waits for all, copies the sums back. The first
  // call (or arm()) first checks that every rank holds the same parameter list (else the buckets
  // would not line up and Gloo would wait until its timeout). Returns the step's statistics.
  GradientSyncStats reduce();
  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }

 protected:
  // Under mutex_: a bucket completed during backward (pending_ says which are complete).
  virtual void on_bucket_complete_locked() = 0;
  // Under mutex_, from reduce(): launch what is left, wait for everything, copy the sums back.
  // Returns the first error (after waiting for every collective in flight), or null.
  virtual std::exception_ptr finish_step_locked() = 0;
  // The collective's name and how many it launches per step, for the statistics.
  virtual const char* collective() const = 0;
  virtual int64_t collectives_per_step() const = 0;
  // A checksum of how the strategy divides the tensors (0: it does not), compared across ranks.
  virtual double layout_checksum() const { return 0; }

  // Gives a missing gradient of params_[k] zeros (the collective needs every bucket whole).
  void zero_missing_grad(size_t k);

  std::shared_ptr<ProcessGroup> group_;
  std::vector<at::Tensor> params_;            // without duplicates (tied weights are reduced once)
  std::vector<std::vector<size_t>> buckets_;  // indices into params_
  int64_t bucket_bytes_ = 0;

  std::mutex mutex_;
  bool armed_ = false;
  std::vector<size_t> pending_;  // gradients still to arrive, per bucket
  size_t next_launch_ = 0;       // buckets start in order
  int64_t launched_in_backward_ = 0;

 private:
  void on_gradient(size_t param);  // a backward hook: param's gradient is accumulated
  void check_layout();

  std::vector<size_t> bucket_of_;
  bool overlap_ = true;
  bool checked_ = false;
  int64_t bytes_at_start_ = -1;  // process_bytes_written() when the step's first bucket could start
};

}  // namespace rdpo
