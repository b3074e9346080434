#include "core/model/layers/attention_softcap.h"

#include <cmath>
#include <limits>

namespace rdpo {

at::Tensor softcapped_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                                std::optional<double> scale, double softcap) {
  const int64_t groups = q.size(1) / k.size(1);
  auto keys = groups > 1 ? k.repeat_interleave(groups, 1) : k;
  auto values = groups > 1 ? v.repeat_interleave(groups, 1) : v;
  const double s = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = at::matmul(q, keys.transpose(-2, -1)) * s;
  scores = at::tanh(scores / softcap) * softcap;
  scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
  auto weights = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(weights, values);
}

at::Tensor causal_mask(int64_t length, c10::Device device) {
  auto idx = torch::arange(length, torch::TensorOptions().dtype(torch::kInt64).device(device));
  return idx.unsqueeze(0) <= idx.unsqueeze(1);
}

}  // namespace rdpo
