// ZeRO-1's strategy of core/distributed/gradient_sync.h: the buckets are reduce-scattered, so each
// rank receives the summed gradients of the tensors core/distributed/optimizer_shards.h assigns to
// it, and drops the other tensors' .grad as soon as their values have been handed to the
// collective (during backward when the buckets overlap it). Each bucket's reduce-scatter runs in
// pieces whose receive buffer is at most about one bucket, at most four pieces in flight, so a
// tensor larger than the bucket size costs no W-fold buffer.
#pragma once
#include <exception>
#include <memory>
#include <vector>

#include "core/distributed/gradient_sync.h"
#include "core/distributed/optimizer_shards.h"

namespace rdpo {

class ReduceScatterSync final : public GradientSync {
 public:
  ReduceScatterSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params, int64_t bucket_bytes,
                    bool overlap_backward, const OptimizerShards& shards);

 private:
  void on_bucket_complete_locked() override { reap_locked(); }
  std::exception_ptr finish_step_locked() override;
  const char* collective() const override { return "reduce-scatter"; }
  int64_t collectives_per_step() const override;
  double layout_checksum() const override;

  // Piece j of J of a bucket covers, for every rank r, the elements [c_r·j/J, c_r·(j+1)/J) of r's
  // part of the bucket (its tensors' gradients in bucket order).
  struct Piece {
    size_t bucket = 0;
    int64_t index = 0;
    std::unique_ptr<PendingReduce> work;
  };
  bool can_launch_locked() const;  // the next piece's bucket is complete, and a slot is free
  void launch_locked();
  void finish_locked(Piece& piece);  // copies the piece's sums into this rank's gradients
  void reap_locked();                // finishes pieces that have completed, launches more
  // Calls fn(tensor k, lo, hi, at) for rank r's tensors in bucket b overlapping [start, end) of
  // r's part: elements [lo, hi) of tensor k sit at offset `at` from `start`.
  template <typename Fn>
  void overlaps(size_t b, int64_t r, int64_t start, int64_t end, Fn&& fn) const;

  std::vector<int64_t> owner_;                // owner_[k]: the rank that keeps params_[k]'s summed gradient
  std::vector<std::vector<int64_t>> counts_;  // per bucket, per rank: elements of its tensors
  std::vector<int64_t> pieces_;               // per bucket
  int64_t next_piece_ = 0;                    // of bucket next_launch_
  std::vector<Piece> in_flight_;
  std::exception_ptr reap_error_;  // a piece that failed while reaped during backward
};

}  // namespace rdpo
