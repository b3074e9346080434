// Rotary position embeddings as Hugging Face computes them (the "rotate half" layout: the first
// and second halves of each head are the two coordinates of each rotated pair).
#pragma once
#include <utility>

#include <torch/torch.h>

#include "core/model_config.h"

namespace rdpo {

// inv_freq[i] = 1 / theta^(2i/d), float32 [d/2], adjusted for linear or llama3 scaling.
at::Tensor rope_inv_freq(const RopeConfig& rope, int64_t head_dim);

// cos and sin [N, 1, d] in `dtype` for the given [N] positions.
std::pair<at::Tensor, at::Tensor> rope_cos_sin(const at::Tensor& inv_freq, const at::Tensor& positions,
                                               c10::ScalarType dtype);

// x [N, heads, d] rotated: x * cos + rotate_half(x) * sin.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace rdpo
