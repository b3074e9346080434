// The one way a model's per-sequence log-probabilities are computed: training (the policy and the
// reference pass, core/train/preference_trainer.h), evaluation and the `logprobs` command all score
// through it, so their numbers and their memory agree. Hidden states run under autocast to the
// compute dtype over the model's weights, and the output layer is the fused chunked kernel
// (core/token_logprobs.h), which never materialises the [N, vocab] logits.
#pragma once
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "core/model/causal_lm.h"
#include "core/model/packed_batch.h"
#include "core/model/token_logprobs.h"

namespace rdpo {

// How a packed batch is scored: the keys, defaults and bounds that sequenceLogprobs,
// referenceLogps and the trainer's options share (the binding reads {computeDtype, logitsChunk}
// into this). The dtype stays a name here: callers parse it (parse_dtype, core/base/dtype.h) where
// its error should surface (in the worker for the binding's async calls).
struct ScoringOptions {
  std::string compute_dtype = "float32";
  int64_t logits_chunk = 1024;  // rows per chunk of the fused output layer
};

// Per-sequence sums and counts of log p(score_targets) over a batch already on the model's device.
// Differentiable w.r.t. the model's parameters when grad mode is on (sum and count are in the
// scored rows' float dtype). compute_dtype float32 is plain float32; bfloat16/float16 autocast the
// forward over the model's weights (cast-once copies, core/compute_weights.h).
SequenceReduction score_sequences(CausalLM& model, const PackedBatch& batch, c10::ScalarType compute_dtype,
                                  int64_t logits_chunk);

struct SequenceLogprobs {
  at::Tensor sum;    // [S] float32: sum of log p(score_targets) per scored sequence
  at::Tensor count;  // [S] int64: number of scored tokens per sequence
};
// score_sequences for a batch on any device (it is moved to the model's), with float32 sums and
// int64 counts: what eval and the `logprobs` command report. Pass the run's compute dtype and
// logits chunk to get training's numbers.
SequenceLogprobs sequence_logprobs(CausalLM& model, const PackedBatch& batch,
                                   c10::ScalarType compute_dtype = torch::kFloat32, int64_t logits_chunk = 1024);

}  // namespace rdpo
