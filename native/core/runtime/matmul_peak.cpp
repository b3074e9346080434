#include "core/runtime/matmul_peak.h"

#include <chrono>

#include "core/base/dtype.h"
#include "core/base/errors.h"

namespace rdpo {

MatmulPeak measure_matmul_peak(int size, int iterations, const std::string& dtype, const std::string& device) {
  if (size <= 0 || size > 32768) throw RangeError("matmul size must be in 1..32768, got " + std::to_string(size));
  if (iterations <= 0) throw RangeError("iterations must be positive, got " + std::to_string(iterations));
  torch::NoGradGuard no_grad;
  auto opts = torch::TensorOptions().dtype(parse_dtype(dtype)).device(parse_device(device));
  auto a = torch::randn({size, size}, opts);
  auto b = torch::randn({size, size}, opts);
  auto c = torch::empty({size, size}, opts);
  auto sync = [&] {
    if (a.is_cuda()) torch::cuda::synchronize();
  };
  torch::mm_out(c, a, b);  // warm-up: kernel selection, page faults
  sync();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) torch::mm_out(c, a, b);
  sync();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MatmulPeak r;
  r.seconds = seconds;
  r.size = size;
  r.iterations = iterations;
  r.dtype = dtype;
  r.device = device;
  r.flops_per_sec = 2.0 * size * size * double(size) * iterations / std::max(seconds, 1e-12);
  return r;
}

}  // namespace rdpo
