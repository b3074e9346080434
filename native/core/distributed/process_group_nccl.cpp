#include "core/distributed/process_group_nccl.h"

#include <cstdlib>
#include <stdexcept>

#include "core/build_features.h"  // generated: RDPO_NCCL + RDPO_NCCL_HEADER_VERSION, or RDPO_NCCL_MISSING

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>

#ifdef RDPO_NCCL
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/cuda/nccl.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace rdpo {

#ifdef RDPO_NCCL

NcclSupport nccl_support() {
  NcclSupport s;
  s.compiled = true;
  s.header_version = RDPO_NCCL_HEADER_VERSION;
  return s;
}

std::string nccl_runtime_check() {
  try {
    // (major << 32) | (minor << 16) | patch, from ncclGetVersion of the library libtorch_cuda loaded.
    const std::uint64_t v = torch::cuda::nccl::version();
    const std::string loaded =
        std::to_string(v >> 32) + "." + std::to_string((v >> 16) & 0xffff) + "." + std::to_string(v & 0xffff);
    if (loaded == RDPO_NCCL_HEADER_VERSION) return "";
    return std::string("LibTorch loaded NCCL ") + loaded + ", but this addon was compiled against nccl.h " +
           RDPO_NCCL_HEADER_VERSION +
           " (ProcessGroupNCCL holds an ncclConfig_t by value, so they must match): rebuild with the nccl.h of " +
           loaded + " (RDPO_NCCL_INCLUDE; docs/distributed.md)";
  } catch (const std::exception& e) {
    return std::string("asking LibTorch for its NCCL version failed: ") + e.what();
  }
}

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout,
                                                    const at::Device& device) {
  if (!device.is_cuda() || !device.has_index())
    throw std::invalid_argument("an NCCL group needs a device cuda:N, not " + device.str());
  // torch's default (TORCH_NCCL_ASYNC_ERROR_HANDLING=3) tears the process down from the watchdog
  // thread when a collective fails or times out. With blocking wait, Work::wait() waits on the host
  // until the collective completes, fails (a peer gone: NCCL's remote error) or passes the timeout,
  // and throws: the caller names the collective and the rank, as with Gloo. Read by the
  // constructor; a value the user set is kept (0 gives torch's default behaviour).
  setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
  c10::cuda::CUDAGuard guard(device);
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, opts);
  // Communicators are created lazily, by the first collective: connect now.
  std::vector<at::Tensor> one{at::ones({1}, at::TensorOptions().dtype(at::kFloat).device(device))};
  pg->allreduce(one)->wait();
  if (one[0].item<float>() != static_cast<float>(world_size))
    throw std::runtime_error("the NCCL connection check summed to " + std::to_string(one[0].item<float>()) + ", not " +
                             std::to_string(world_size));
  return pg;
}

#else  // not compiled: the reason comes from CMakeLists.txt

#ifndef RDPO_NCCL_MISSING
#define RDPO_NCCL_MISSING "not configured"
#endif

NcclSupport nccl_support() {
  NcclSupport s;
  s.missing = RDPO_NCCL_MISSING;
  return s;
}

std::string nccl_runtime_check() { return std::string("NCCL is not built: ") + RDPO_NCCL_MISSING; }

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>&, int, int,
                                                    std::chrono::milliseconds, const at::Device& device) {
  throw std::runtime_error("data-parallel training on " + device.str() +
                           " needs ProcessGroupNCCL, which this rdpo-native addon was built without: " +
                           RDPO_NCCL_MISSING + " (docs/distributed.md)");
}

#endif

}  // namespace rdpo
