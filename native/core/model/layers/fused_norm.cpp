#include "core/model/layers/fused_norm.h"

#include <ATen/Parallel.h>

#include <mutex>
#include <vector>

#include "core/runtime/perf_options.h"

namespace rdpo {
namespace {

// Σ a[k]·b[k] with 8 independent partial sums so that the compiler can keep them in vector lanes.
inline float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[k + j] * b[k + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; k < n; ++k) s += a[k] * b[k];
  return s;
}

constexpr int64_t kGrain = 16;  // rows per task

struct FusedRmsNorm : torch::autograd::Function<FusedRmsNorm> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            double eps) {
    const int64_t N = x.size(0), H = x.size(1);
    auto y = at::empty_like(x);
    auto rstd = at::empty({N}, x.options());
    const float* xp = x.data_ptr<float>();
    const float* wp = weight.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    float* rp = rstd.data_ptr<float>();
    at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float* xr = xp + i * H;
        const float r = 1.0f / std::sqrt(dot(xr, xr, H) / static_cast<float>(H) + static_cast<float>(eps));
        rp[i] = r;
        float* yr = yp + i * H;
        for (int64_t k = 0; k < H; ++k) yr[k] = wp[k] * (xr[k] * r);
      }
    });
    ctx->save_for_backward({x, weight, rstd});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& rstd = saved[2];
    at::Tensor g = grads[0].contiguous();
    const int64_t N = x.size(0), H = x.size(1);
    auto dx = at::empty_like(x);
    auto dw = at::zeros_like(weight);
    const float *xp = x.data_ptr<float>(), *wp = weight.data_ptr<float>(), *rp = rstd.data_ptr<float>(),
                *gp = g.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    float* dwp = dw.data_ptr<float>();
    std::mutex mu;
    at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
      std::vector<float> gw(H), dw_local(H, 0.0f);
      for (int64_t i = begin; i < end; ++i) {
        const float *xr = xp + i * H, *gr = gp + i * H;
        const float r = rp[i];
        for (int64_t k = 0; k < H; ++k) gw[k] = gr[k] * wp[k];
        // d/dx of w·x·r: r·(g·w) − x·r³·Σ(g·w·x)/H
        const float c = dot(gw.data(), xr, H) * r * r * r / static_cast<float>(H);
        float* dxr = dxp + i * H;
        for (int64_t k = 0; k < H; ++k) {
          dxr[k] = r * gw[k] - xr[k] * c;
          dw_local[k] += gr[k] * (xr[k] * r);
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      for (int64_t k = 0; k < H; ++k) dwp[k] += dw_local[k];
    });
    return {dx, dw, at::Tensor()};
  }
};

}  // namespace

at::Tensor rms_norm_composite(const at::Tensor& x, const at::Tensor& weight, double eps) {
  auto h = x.to(torch::kFloat32);
  h = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * h.to(x.scalar_type());
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const bool fits = perf_options().fused_rms_norm && x.device().is_cpu() && x.dim() == 2 &&
                    x.scalar_type() == torch::kFloat32 && weight.scalar_type() == torch::kFloat32 &&
                    weight.dim() == 1 && weight.size(0) == x.size(1) && weight.device().is_cpu();
  if (!fits) return rms_norm_composite(x, weight, eps);
  return FusedRmsNorm::apply(x.contiguous(), weight.contiguous(), eps);
}

}  // namespace rdpo
