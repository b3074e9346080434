// RMSNorm as one forward and one backward pass over the rows, instead of the ~6 elementwise ops
// (and their autograd nodes and temporaries) of the composite form
//     h = x · rsqrt(mean(x²) + eps) ; y = weight · h
// Used for float32 rows and weights on the CPU (the training and reference paths, where the
// residual stream is float32 even under bf16 autocast); anything else, or with
// PerfOptions::fused_rms_norm off, runs the composite form, which is what transformers computes.
#pragma once
#include <torch/torch.h>

namespace rdpo {

// The composite form (transformers' LlamaRMSNorm): normalise in float32, cast back, then scale.
at::Tensor rms_norm_composite(const at::Tensor& x, const at::Tensor& weight, double eps);

// x [N, H], weight [H] -> [N, H]; differentiable with respect to both.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace rdpo
