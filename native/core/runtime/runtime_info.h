// What LibTorch and the machine offer: versions, ABI, threads, CPU features, accelerators.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rdpo {

struct AcceleratorDevice {
  std::string type;  // "cuda" or "mps"
  int index = 0;
  std::string name;
  int64_t total_memory = 0;  // bytes; 0 when unknown
  int64_t free_memory = 0;   // bytes; 0 when unknown
  std::string compute_capability;
};

struct RuntimeInfo {
  std::string torch_version;
  std::string torch_lib_dir;  // directory of the libtorch that is actually loaded
  bool cxx11_abi = false;
  std::string cpu_capability;  // as ATen reports it: DEFAULT, AVX2, AVX512, ...
  int intra_op_threads = 0;
  int inter_op_threads = 0;
  bool cuda_compiled = false;  // libtorch_cuda is linked in
  bool cuda_available = false;
  bool mps_available = false;
  std::vector<AcceleratorDevice> devices;
  std::string build_config;  // at::show_config()
};

RuntimeInfo runtime_info();

// Set LibTorch's intra-op thread count (0 leaves it as is).
void set_num_threads(int threads);

}  // namespace rdpo
