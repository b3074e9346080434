// Attention with tanh soft-capping of the scores (Gemma 2):
//   scores = cap * tanh(scale * q kᵀ / cap), masked, softmax in float32, times v.
// scaled_dot_product_attention has no soft-capping step, so this is the eager computation, the
// same sequence of operations as transformers' eager attention.
#pragma once
#include <optional>

#include <torch/torch.h>

namespace rdpo {

// q [B, heads, L, d]; k, v [B, kv_heads, S, d] (kv heads are repeated to match); mask bool,
// broadcastable to [B, heads, L, S], true where a query may see a key. scale: 1/sqrt(d) when unset.
at::Tensor softcapped_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                                std::optional<double> scale, double softcap);

// [L, L] bool: key <= query.
at::Tensor causal_mask(int64_t length, c10::Device device);

}  // namespace rdpo
