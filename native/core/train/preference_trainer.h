// One training step of SFT / DPO / RDPO / ORPO / SimPO on a packed batch: a single concatenated
// forward of chosen, rejected and rationale rows, the fused output layer, the loss, backward,
// and an AdamW step on float32 master weights (bf16 compute through CPU/CUDA autocast).
//
// Sequence numbering inside a PreferenceBatch (B pairs):
//   chosen of pair i -> i,  rejected -> B + i,  rationale -> 2B + i
// Pair groups (prompt trunk + chosen/rejected branches) come first in the packed layout and the
// rationale groups after them, so the reference pass can score the pair groups alone.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/distributed/gradient_sync.h"
#include "core/model/causal_lm.h"
#include "core/model/packed_batch.h"
#include "core/model/sequence_scoring.h"
#include "core/train/adamw.h"
#include "core/train/preference_loss.h"

namespace rdpo {

class OptimizerShards;  // core/distributed/optimizer_shards.h

struct TrainerOptions {
  LossOptions loss;
  AdamWOptions adamw;
  c10::ScalarType compute_dtype = torch::kFloat32;  // bfloat16/float16: autocast over float32 weights
  bool gradient_checkpointing = false;
  int64_t logits_chunk = ScoringOptions{}.logits_chunk;  // rows per chunk of the fused output layer
};

struct PreferenceBatch {
  PackedBatch packed;
  int64_t num_pairs = 0;
  int64_t num_pair_groups = 0;  // the first groups hold the pairs; the rest hold rationales
  bool has_rejected = true;
  bool has_rationale = false;
  at::Tensor ref_chosen, ref_rejected;  // [B] summed reference log-probs (losses that need them)
};

struct StepMetrics {
  double loss = 0;
  std::map<std::string, double> values;  // TRL metric names, plus token counts
};

// What an optimiser step did: the gradient norm before clipping, and (data-parallel) how the
// gradients were synchronised.
struct OptimizerStep {
  double grad_norm = 0;
  std::optional<GradientSyncStats> gradient_sync;
};

// The packed batch restricted to the first `num_groups` groups and the sequences < num_sequences
// (the pair part of a PreferenceBatch, for the reference model).
PackedBatch leading_groups(const PackedBatch& batch, int64_t num_groups, int64_t num_sequences);

// Summed log-probs of the chosen and rejected sequences under `model`, without gradients: [B] each.
std::pair<at::Tensor, at::Tensor> reference_logps(CausalLM& model, const PreferenceBatch& batch,
                                                  c10::ScalarType compute_dtype, int64_t logits_chunk);

class PreferenceTrainer {
 public:
  PreferenceTrainer(CausalLM& policy, TrainerOptions options);

  // Forward and backward of one micro-batch; gradients accumulate. The loss is multiplied by
  // `scale` (1 / accumulation steps) before backward; metrics are unscaled. With `term_norms`, the
  // metrics also hold each term's share of the update: grad_norm/preference and grad_norm/rationale,
  // the L2 norms of the gradients of the preference part and the rationale term of this micro-batch's
  // (unscaled) loss, before clipping (two extra backward passes; losses without a rationale term skip it).
  StepMetrics accumulate(const PreferenceBatch& batch, double scale, bool term_norms = false);
  // Clips the accumulated gradients, applies AdamW with `lr`, clears them. Returns the norm before
  // clipping (and the data-parallel statistics). A non-finite gradient norm skips the update
  // (weights and Adam state untouched) and is returned as is.
  OptimizerStep step(double lr, double max_grad_norm);
  // The loss and metrics of a batch without gradients (held-out evaluation).
  StepMetrics evaluate(const PreferenceBatch& batch);

  int64_t num_parameters() const;
  // Parameters whose AdamW state this rank holds (all of them, unless the state is sharded).
  int64_t num_optimizer_parameters() const;
  void save_optimizer_state(const std::string& file) const;
  void load_optimizer_state(const std::string& file);

  const TrainerOptions& options() const { return options_; }
  AdamW& optimizer() { return *optimizer_; }

  // The parameters the optimiser updates (data-parallel training synchronises their gradients).
  const std::vector<at::Tensor>& trainable_parameters() const { return params_; }
  // Data-parallel training (core/train/data_parallel.h sets it up): step() first sums the
  // gradients over the ranks (each rank scales its loss by its share of the global batch), so
  // clipping and AdamW see the global gradient.
  void set_gradient_sync(std::shared_ptr<GradientSync> sync) { grad_sync_ = std::move(sync); }
  // Data-parallel: the next accumulate() is the step's last, so its backward can start the
  // gradient collectives bucket by bucket (a no-op without a gradient sync).
  void prepare_last_micro_batch();
  // Data-parallel ZeRO-1: this rank keeps AdamW state for the parameters it owns only; step()
  // all-gathers the updated parameters (in pieces of about `gather_bytes`), and
  // save_optimizer_state() gathers the whole state to rank 0 (every rank must call it; the other
  // ranks write nothing). The gradient sync set next must reduce-scatter by these shards
  // (core/distributed/reduce_scatter_sync.h). Returns the shards.
  const OptimizerShards& shard_optimizer(std::shared_ptr<ProcessGroup> group, int64_t gather_bytes);

 private:
  // Forward (and backward when `backward_scale` > 0) of one batch.
  StepMetrics run(const PreferenceBatch& batch, double backward_scale, bool term_norms = false);

  // With LoRA or gradient checkpointing, every gradient is a view of one buffer allocated once
  // and zeroed after each step (see the definition for why); `hold` (empty: all) picks which.
  void hold_gradients_in_one_buffer(const std::vector<bool>& hold = {});

  CausalLM& policy_;
  TrainerOptions options_;
  std::vector<at::Tensor> params_;
  at::Tensor grad_buffer_;  // undefined: gradients are allocated by backward and dropped at the step
  std::vector<bool> held_;  // per parameter: its gradient is a view of grad_buffer_
  std::unique_ptr<AdamW> optimizer_;
  std::shared_ptr<GradientSync> grad_sync_;
  std::shared_ptr<OptimizerShards> shards_;
};

}  // namespace rdpo
