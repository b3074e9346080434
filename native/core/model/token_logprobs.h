// Per-token log-probabilities of target tokens through the output layer (the "LM head"), and
// their reduction into per-sequence sums. This is the loss stage between the model's hidden
// states and the preference losses:
//
//   hidden [T, H] --index_select(score_rows)--> hidden_rows [N, H]
//   hidden_rows, lm_head [V, H], score_targets [N] --token_logprobs--> [N] float32
//   [N] --reduce_by_sequence(score_seq)--> sum [S], count [S]
//
// The [N, V] logits are the largest tensor of a training step (N ~ 8k tokens × V ~ 50k-150k).
// fused_token_logprobs never builds them whole: it walks `chunk_size` rows at a time forward and
// again backward, so the stage's memory is O(chunk_size · V + V · H) instead of O(N · V).
#pragma once
#include <cstdint>

#include <torch/torch.h>

namespace rdpo {

// Reference path, plain autograd: logits = hidden_rows · weightᵀ (matmul in the input dtype,
// then float32), log_softmax, gather. Returns [N] float32. Keeps [N, V] logits for backward.
// softcap > 0: the logits are first soft-capped, cap * tanh(z / cap) (Gemma 2's final_logit_softcapping).
at::Tensor token_logprobs_unfused(const at::Tensor& hidden_rows, const at::Tensor& weight, const at::Tensor& targets,
                                  double softcap = 0);

// Same values and gradients as token_logprobs_unfused, chunked over rows (see the top of this
// file). hidden_rows [N, H] and weight [V, H] must share a floating dtype (float32, bfloat16,
// float16) and device; targets [N] int64 in [0, V). Softmax math is float32 whatever the input
// dtype; grad_weight accumulates over chunks in float32 and is cast once at the end.
// Differentiable w.r.t. hidden_rows and weight; not twice differentiable.
at::Tensor fused_token_logprobs(const at::Tensor& hidden_rows, const at::Tensor& weight, const at::Tensor& targets,
                                int64_t chunk_size = 1024, double softcap = 0);

// Per-sequence sums of token log-probs and token counts: sum[s] = Σ token_logps[i] over
// score_seq[i] == s, count[s] = how many. Both [num_sequences] in token_logps' dtype (count as a
// float, so sum / count is the mean log-prob directly). Differentiable w.r.t. token_logps.
struct SequenceReduction {
  at::Tensor sum;
  at::Tensor count;
};
SequenceReduction reduce_by_sequence(const at::Tensor& token_logps, const at::Tensor& score_seq, int64_t num_sequences);

}  // namespace rdpo
