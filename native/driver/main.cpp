// rdpo-driver: the core without Node.js, for GPU machines and C++-level checks.
//   rdpo-driver info                 runtime and device report
//   rdpo-driver smoke [device]       a tiny forward/backward and optimiser step, checked
//   rdpo-driver matmul-peak [dtype] [device] [size] [iters]
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "core/base/dtype.h"
#include "core/runtime/matmul_peak.h"
#include "core/runtime/runtime_info.h"
#include "driver/commands.h"

namespace {

int info_command() {
  auto r = rdpo::runtime_info();
  std::printf("torch %s (%s)\ncxx11 abi %d, cpu capability %s, threads %d\ncuda available %d\n",
              r.torch_version.c_str(), r.torch_lib_dir.c_str(), r.cxx11_abi ? 1 : 0, r.cpu_capability.c_str(),
              r.intra_op_threads, r.cuda_available ? 1 : 0);
  for (const auto& d : r.devices)
    std::printf("  %s:%d %s %.1f GiB cc %s\n", d.type.c_str(), d.index, d.name.c_str(), d.total_memory / 1073741824.0,
                d.compute_capability.c_str());
  return 0;
}

int smoke_command(const std::string& device) {
  // Least squares on a known linear map: a few AdamW steps must cut the loss.
  torch::manual_seed(0);
  auto dev = rdpo::parse_device(device);
  auto w_true = torch::randn({8, 4}, torch::TensorOptions().device(dev));
  auto x = torch::randn({64, 8}, torch::TensorOptions().device(dev));
  auto y = x.matmul(w_true);
  auto w = torch::zeros({8, 4}, torch::TensorOptions().device(dev).requires_grad(true));
  torch::optim::AdamW opt({w}, torch::optim::AdamWOptions(0.1));
  double first = 0, last = 0;
  for (int i = 0; i < 50; ++i) {
    opt.zero_grad();
    auto loss = (x.matmul(w) - y).pow(2).mean();
    loss.backward();
    opt.step();
    if (i == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  std::printf("smoke on %s: loss %.4f -> %.4f\n", device.c_str(), first, last);
  if (!(last < first * 0.5)) {
    std::fprintf(stderr, "smoke FAILED: loss did not fall\n");
    return 1;
  }
  std::printf("smoke OK\n");
  return 0;
}

int matmul_peak_command(int argc, char** argv) {
  std::string dtype = argc > 2 ? argv[2] : "float32";
  std::string device = argc > 3 ? argv[3] : "cpu";
  int size = argc > 4 ? std::atoi(argv[4]) : 1024;
  int iters = argc > 5 ? std::atoi(argv[5]) : 10;
  auto r = rdpo::measure_matmul_peak(size, iters, dtype, device);
  std::printf("matmul %s %s n=%d: %.1f GFLOP/s\n", dtype.c_str(), device.c_str(), size, r.flops_per_sec / 1e9);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "info";
  try {
    if (cmd == "info") return info_command();
    if (cmd == "smoke") return smoke_command(argc > 2 ? argv[2] : "cpu");
    if (cmd == "matmul-peak") return matmul_peak_command(argc, argv);
    if (int rc = rdpo::driver::dispatch(cmd, argc, argv); rc != rdpo::driver::kUnknownCommand) return rc;
    std::fprintf(stderr,
                 "unknown command '%s'\nusage: rdpo-driver info | smoke [device] | matmul-peak [dtype] [device] [size] "
                 "[iters]%s\n",
                 cmd.c_str(), rdpo::driver::usage().c_str());
    return 2;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
