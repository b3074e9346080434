#include "core/train/data_parallel.h"

#include "core/base/errors.h"
#include "core/distributed/all_reduce_sync.h"
#include "core/distributed/reduce_scatter_sync.h"

namespace rdpo {

std::unique_ptr<PreferenceTrainer> make_preference_trainer(CausalLM& policy, const TrainerOptions& options,
                                                           const DataParallelOptions& dp) {
  auto trainer = std::make_unique<PreferenceTrainer>(policy, options);
  if (!dp.group) return trainer;
  if (dp.bucket_bytes <= 0) throw RangeError("the gradient bucket size must be positive");
  const auto& params = trainer->trainable_parameters();
  if (dp.shard_optimizer) {
    // ZeRO-1: the shards first, so the reduce-scatter knows which rank keeps which gradient.
    const OptimizerShards& shards = trainer->shard_optimizer(dp.group, dp.bucket_bytes);
    trainer->set_gradient_sync(
        std::make_shared<ReduceScatterSync>(dp.group, params, dp.bucket_bytes, dp.overlap_backward, shards));
  } else {
    trainer->set_gradient_sync(std::make_shared<AllReduceSync>(dp.group, params, dp.bucket_bytes, dp.overlap_backward));
  }
  return trainer;
}

}  // namespace rdpo
