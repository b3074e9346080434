#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/distributed/process_group.h"

namespace rdpo {

// Data-parallel ZeRO-1 (optimizer-state sharding): each parameter tensor is owned by one rank
// (whole tensors, balanced by size, the same assignment on every rank, so AdamW's per-tensor rules
// such as weight decay stay as they are). A rank receives the summed gradients of its own tensors
// only (core/distributed/reduce_scatter_sync.h), keeps AdamW state for them only, and after each step the ranks
// all-gather the updated parameters: rank r's segment is its tensors flattened in parameter
// order, padded to the largest rank's element count.
class OptimizerShards {
 public:
  // `gather_bytes`: the all-gather runs in pieces whose output is at most about this size.
  OptimizerShards(std::shared_ptr<ProcessGroup> group, std::vector<std::pair<std::string, at::Tensor>> named,
                  int64_t gather_bytes);
  // This rank's parameters (what its AdamW steps).
  std::vector<std::pair<std::string, at::Tensor>> owned() const;
  // The rank that owns `p` (by identity), or -1 when p is not a sharded parameter.
  int64_t owner_of(const at::Tensor& p) const;
  // The global L2 norm of the gradients of `params` (each rank holds its own tensors' gradients):
  // each rank's per-tensor norms are summed over the ranks (x + 0: exact) and reduced in
  // `params` order as clip_grad_norm() does, so the value is bit-identical to one process's.
  // Clips this rank's gradients like clip_grad_norm(); a collective.
  double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);
  // Every rank's parameters become their owners' (after the AdamW step): an all-gather. Returns
  // the bytes this process sent meanwhile (process_bytes_written() delta; -1: not measured).
  int64_t all_gather_updates();
  // The whole AdamW state (AdamW::state() names) on rank 0, from every rank's own part; empty on
  // the other ranks. A collective: every rank calls it.
  std::vector<std::pair<std::string, at::Tensor>> gather_state(
      const std::vector<std::pair<std::string, at::Tensor>>& local) const;
  int64_t rank() const;

 private:
  std::shared_ptr<ProcessGroup> group_;
  std::vector<std::pair<std::string, at::Tensor>> named_;
  std::vector<int64_t> owner_;
  std::vector<int64_t> offset_;  // named_[k]'s offset in its owner's segment
  int64_t segment_ = 0;          // elements per rank in the all-gather (the largest rank's load)
  int64_t gather_bytes_;
};

}  // namespace rdpo
