// Rotary position embeddings as Hugging Face computes them (the "rotate half" layout: the first
// and second halves of each head are the two coordinates of each rotated pair).
#pragma once
#include <utility>

#include <torch/torch.h>

#include "core/model/model_config.h"

namespace rdpo {

// inv_freq[i] = 1 / theta^(2i/d), float32 [d/2], adjusted for linear or llama3 scaling. With a
// partial_rotary_factor, pass rotary_dims(rope, head_dim) as head_dim.
// longrope: `long_context` picks long_factor (sequences beyond original_max_position_embeddings).
at::Tensor rope_inv_freq(const RopeConfig& rope, int64_t head_dim, bool long_context = false);

// The rotated dimensions of each head: head_dim * partial_rotary_factor (all of them by default).
inline int64_t rotary_dims(const RopeConfig& rope, int64_t head_dim) {
  return static_cast<int64_t>(static_cast<double>(head_dim) * rope.partial_rotary_factor);
}

// cos and sin [N, 1, d] in `dtype` for the given [N] positions, times `scale` (longrope's
// attention_factor) before the cast.
std::pair<at::Tensor, at::Tensor> rope_cos_sin(const at::Tensor& inv_freq, const at::Tensor& positions,
                                               c10::ScalarType dtype, double scale = 1.0);

// x [N, heads, d] rotated: x * cos + rotate_half(x) * sin. When cos/sin cover fewer than d
// dimensions, only those leading dimensions rotate.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace rdpo
