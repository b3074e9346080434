#include "core/runtime/runtime_info.h"

#include <dlfcn.h>

#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <regex>

namespace rdpo {
namespace {

std::string loaded_library_dir() {
  Dl_info info{};
  // Any symbol from libtorch_cpu tells us which copy the dynamic loader picked.
  if (dladdr(reinterpret_cast<void*>(&at::get_num_threads), &info) && info.dli_fname) {
    std::string path = info.dli_fname;
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(0, slash);
  }
  return RDPO_TORCH_LIB_DIR;
}

// Device names and memory come from the CUDA driver API, opened at run time, so that
// a CPU-only build still reports the GPUs a CUDA libtorch would use.
void add_cuda_devices(RuntimeInfo& info) {
  void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!lib) return;
  using InitFn = int (*)(unsigned);
  using CountFn = int (*)(int*);
  using GetFn = int (*)(int*, int);
  using NameFn = int (*)(char*, int, int);
  using MemFn = int (*)(size_t*, int);
  using AttrFn = int (*)(int*, int, int);
  auto cu_init = reinterpret_cast<InitFn>(dlsym(lib, "cuInit"));
  auto cu_count = reinterpret_cast<CountFn>(dlsym(lib, "cuDeviceGetCount"));
  auto cu_get = reinterpret_cast<GetFn>(dlsym(lib, "cuDeviceGet"));
  auto cu_name = reinterpret_cast<NameFn>(dlsym(lib, "cuDeviceGetName"));
  auto cu_mem = reinterpret_cast<MemFn>(dlsym(lib, "cuDeviceTotalMem_v2"));
  auto cu_attr = reinterpret_cast<AttrFn>(dlsym(lib, "cuDeviceGetAttribute"));
  int count = 0;
  if (!cu_init || !cu_count || cu_init(0) != 0 || cu_count(&count) != 0) {
    dlclose(lib);
    return;
  }
  for (int i = 0; i < count; ++i) {
    AcceleratorDevice dev;
    dev.type = "cuda";
    dev.index = i;
    int handle = 0;
    if (cu_get && cu_get(&handle, i) == 0) {
      char name[256] = {0};
      if (cu_name && cu_name(name, sizeof(name) - 1, handle) == 0) dev.name = name;
      size_t mem = 0;
      if (cu_mem && cu_mem(&mem, handle) == 0) dev.total_memory = static_cast<int64_t>(mem);
      int major = 0, minor = 0;
      // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76
      if (cu_attr && cu_attr(&major, 75, handle) == 0 && cu_attr(&minor, 76, handle) == 0)
        dev.compute_capability = std::to_string(major) + "." + std::to_string(minor);
    }
    info.devices.push_back(dev);
  }
  // The library stays open: the CUDA runtime loaded by libtorch_cuda shares it.
}

}  // namespace

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.torch_version = TORCH_VERSION;
  info.torch_lib_dir = loaded_library_dir();
#ifdef _GLIBCXX_USE_CXX11_ABI
  info.cxx11_abi = _GLIBCXX_USE_CXX11_ABI != 0;
#endif
  info.intra_op_threads = at::get_num_threads();
  info.inter_op_threads = at::get_num_interop_threads();
  info.build_config = at::show_config();
  std::smatch m;
  static const std::regex cap_re("CPU capability usage: ([A-Za-z0-9_]+)");
  if (std::regex_search(info.build_config, m, cap_re)) info.cpu_capability = m[1];
  info.cuda_compiled = at::hasCUDA() || dlopen("libtorch_cuda.so", RTLD_LAZY | RTLD_NOLOAD) != nullptr;
  info.cuda_available = torch::cuda::is_available();
  info.mps_available = at::hasMPS();
  add_cuda_devices(info);
  if (!info.cuda_available) {
    // Devices the driver sees but this libtorch cannot use are still worth listing,
    // but they must not be reported as usable.
    for (auto& d : info.devices) d.type = "cuda-unusable";
  }
  if (info.mps_available) info.devices.push_back({"mps", 0, "Apple MPS", 0, 0, ""});
  return info;
}

void set_num_threads(int threads) {
  if (threads > 0) at::set_num_threads(threads);
}

}  // namespace rdpo
