// A preference trainer set up for data-parallel training from plain options: the process group,
// the gradient strategy (all-reduce, or ZeRO-1's reduce-scatter with sharded AdamW state) and its
// knobs. The binding (createTrainer) and the standalone driver build their trainers here, so the
// wiring has one home; lib/train/data_parallel.ts reads the knobs (RDPO_DDP_BUCKET_MB,
// RDPO_DDP_OVERLAP, --zero) and passes them down.
#pragma once
#include <cstdint>
#include <memory>

#include "core/distributed/buckets.h"
#include "core/distributed/process_group.h"
#include "core/model/causal_lm.h"
#include "core/train/preference_trainer.h"

namespace rdpo {

struct DataParallelOptions {
  std::shared_ptr<ProcessGroup> group;  // null: one process, the other options are ignored
  // The gradient bucket size; ZeRO-1's parameter all-gather runs in pieces of the same size.
  int64_t bucket_bytes = kDefaultBucketBytes;
  // Start each bucket's collective from backward as it fills (false: all after backward, for A/B runs).
  bool overlap_backward = true;
  // ZeRO-1: each rank keeps the AdamW state of its own parameters (core/distributed/optimizer_shards.h).
  bool shard_optimizer = false;
};

// A trainer over `policy`; with a group, step() sums the gradients over its ranks first.
std::unique_ptr<PreferenceTrainer> make_preference_trainer(CausalLM& policy, const TrainerOptions& options,
                                                           const DataParallelOptions& data_parallel = {});

}  // namespace rdpo
