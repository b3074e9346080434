#include "core/model/layers/rotary.h"

#include <cmath>

namespace rdpo {

at::Tensor rope_inv_freq(const RopeConfig& rope, int64_t head_dim, bool long_context) {
  // Same arithmetic as transformers (float32 throughout), so logits agree to the last digits.
  auto exponent = torch::arange(0, head_dim, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(head_dim);
  if (rope.type == "longrope") {
    auto ext = torch::tensor(long_context ? rope.long_factor : rope.short_factor, torch::kFloat64).to(torch::kFloat32);
    return 1.0 / (ext * at::pow(rope.theta, exponent));
  }
  at::Tensor inv_freq = 1.0 / at::pow(rope.theta, exponent);
  if (rope.type == "linear") return inv_freq / rope.factor;
  if (rope.type != "llama3") return inv_freq;

  // Llama 3.1: long wavelengths are slowed down by `factor`, short ones kept, the band between
  // low_freq_wavelen and high_freq_wavelen interpolated smoothly.
  const double old_context = static_cast<double>(rope.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / rope.low_freq_factor;
  const double high_freq_wavelen = old_context / rope.high_freq_factor;
  auto wavelen = 2 * M_PI / inv_freq;
  auto scaled = at::where(wavelen > low_freq_wavelen, inv_freq / rope.factor, inv_freq);
  auto smooth = (old_context / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
  auto smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled;
  auto medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen);
  return at::where(medium, smoothed, scaled);
}

std::pair<at::Tensor, at::Tensor> rope_cos_sin(const at::Tensor& inv_freq, const at::Tensor& positions,
                                               c10::ScalarType dtype, double scale) {
  auto freqs = positions.to(torch::kFloat32).unsqueeze(1) * inv_freq.to(positions.device()).unsqueeze(0);  // [N, d/2]
  auto emb = at::cat({freqs, freqs}, -1).unsqueeze(1);                                                     // [N, 1, d]
  if (scale != 1.0) return {(emb.cos() * scale).to(dtype), (emb.sin() * scale).to(dtype)};
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  // Partial rotary (Phi-3/Phi-4-mini): the first cos.size(-1) dims rotate, the rest pass through.
  const int64_t rotary = cos.size(-1);
  if (rotary < x.size(-1))
    return at::cat({apply_rope(x.narrow(-1, 0, rotary), cos, sin), x.narrow(-1, rotary, x.size(-1) - rotary)}, -1);
  const int64_t half = x.size(-1) / 2;
  auto rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

}  // namespace rdpo
