#include "core/checks/token_logprobs_check.h"

#include <chrono>
#include <cmath>
#include <mutex>

#include <ATen/CPUGeneratorImpl.h>

#include "core/checks/cpu_allocation_meter.h"
#include "core/base/dtype.h"
#include "core/base/errors.h"
#include "core/model/token_logprobs.h"

namespace rdpo {
namespace {

void check_sizes(int64_t n, int64_t h, int64_t v, int64_t chunk) {
  if (n < 1 || h < 1 || v < 1 || chunk < 1)
    throw RangeError("n, h, v and chunk must all be >= 1, got n=" + std::to_string(n) + " h=" + std::to_string(h) +
                     " v=" + std::to_string(v) + " chunk=" + std::to_string(chunk));
}

struct Problem {
  at::Tensor hidden, weight, targets, upstream;
};

// Logits of a few units' spread, like a trained LM head's: hidden ~ N(0, 1), weight ~ N(0, 2/h).
Problem make_problem(int64_t n, int64_t h, int64_t v, c10::ScalarType dtype, c10::Device device, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto f32 = at::TensorOptions().dtype(at::kFloat);
  Problem p;
  p.hidden = at::randn({n, h}, gen, f32).to(device, dtype);
  p.weight = (at::randn({v, h}, gen, f32) * std::sqrt(2.0 / double(h))).to(device, dtype);
  p.targets = at::randint(v, {n}, gen, at::TensorOptions().dtype(at::kLong)).to(device);
  p.upstream = at::randn({n}, gen, f32).to(device);
  return p;
}

double max_rel_error(const at::Tensor& got, const at::Tensor& want) {
  at::Tensor g = got.to(at::kDouble), w = want.to(at::kDouble);
  double scale = w.abs().max().item<double>();
  double diff = (g - w).abs().max().item<double>();
  return scale > 0 ? diff / scale : diff;
}

}  // namespace

FusedLogprobsErrors compare_fused_to_unfused(int64_t n, int64_t h, int64_t v, int64_t chunk, const std::string& dtype,
                                             uint64_t seed, const std::string& device, double softcap) {
  check_sizes(n, h, v, chunk);
  const c10::ScalarType type = parse_dtype(dtype);
  if (!at::isFloatingType(type)) throw ArgumentError("dtype must be a floating type, got " + dtype);
  Problem p = make_problem(n, h, v, type, parse_device(device), seed);
  torch::AutoGradMode grad_on(true);

  auto run = [&](bool fused) {
    at::Tensor hidden = p.hidden.detach().requires_grad_(true);
    at::Tensor weight = p.weight.detach().requires_grad_(true);
    at::Tensor logps = fused ? fused_token_logprobs(hidden, weight, p.targets, chunk, softcap)
                             : token_logprobs_unfused(hidden, weight, p.targets, softcap);
    auto grads = torch::autograd::grad({(logps * p.upstream).sum()}, {hidden, weight});
    return std::vector<at::Tensor>{logps.detach(), grads[0], grads[1]};
  };
  auto fused = run(true);
  auto unfused = run(false);
  FusedLogprobsErrors e;
  e.values = max_rel_error(fused[0], unfused[0]);
  e.grad_hidden = max_rel_error(fused[1], unfused[1]);
  e.grad_weight = max_rel_error(fused[2], unfused[2]);
  return e;
}

LossStageMemory measure_loss_stage_memory(int64_t n, int64_t h, int64_t v, int64_t chunk, bool fused,
                                          const std::string& dtype) {
  check_sizes(n, h, v, chunk);
  const c10::ScalarType type = parse_dtype(dtype);
  if (!at::isFloatingType(type)) throw ArgumentError("dtype must be a floating type, got " + dtype);
  Problem p = make_problem(n, h, v, type, c10::Device(c10::kCPU), 0);
  at::Tensor hidden = p.hidden.requires_grad_(true);
  at::Tensor weight = p.weight.requires_grad_(true);
  torch::AutoGradMode grad_on(true);

  // The meter wraps the process-wide CPU allocator: one measurement at a time.
  static std::mutex one_at_a_time;
  std::lock_guard<std::mutex> lock(one_at_a_time);
  LossStageMemory out;
  auto t0 = std::chrono::steady_clock::now();
  {
    CpuAllocationMeter meter;
    at::Tensor logps = fused ? fused_token_logprobs(hidden, weight, p.targets, chunk)
                             : token_logprobs_unfused(hidden, weight, p.targets);
    auto grads = torch::autograd::grad({(logps * p.upstream).sum()}, {hidden, weight});
    out.peak_bytes = meter.peak_bytes();
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace rdpo
