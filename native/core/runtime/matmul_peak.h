// Measures the machine's dense matmul throughput, the denominator of MFU.
#pragma once
#include <string>

namespace rdpo {

struct MatmulPeak {
  double flops_per_sec = 0;  // achieved FLOP/s on square matmuls
  double seconds = 0;        // wall time of the timed part
  int size = 0;
  int iterations = 0;
  std::string dtype;
  std::string device;
};

// Times `iterations` square matmuls of `size` in `dtype` ("float32", "bfloat16", "float16") on `device`.
MatmulPeak measure_matmul_peak(int size, int iterations, const std::string& dtype, const std::string& device);

}  // namespace rdpo
