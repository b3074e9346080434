// Data-parallel training on CUDA: c10d's ProcessGroupNCCL, compiled only when CMakeLists.txt found
// a CUDA LibTorch with NCCL and the nccl.h of torch's NCCL version (cmake/find_nccl.cmake).
// process_group.cpp picks it for a group whose device is CUDA (Gloo otherwise); this file holds
// everything that needs nccl.h.
#pragma once
#include <chrono>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/util/intrusive_ptr.h>

namespace c10d {
class Backend;
class Store;
}  // namespace c10d

namespace rdpo {

struct NcclSupport {
  bool compiled = false;
  std::string header_version;  // NCCL_MAJOR.MINOR.PATCH of the nccl.h compiled against
  std::string missing;         // why not compiled
};
NcclSupport nccl_support();

// "" when the NCCL library LibTorch loaded (torch::cuda::nccl::version()) is the version of the
// nccl.h this was compiled against, else what differs. Needs no GPU.
std::string nccl_runtime_check();

// A ProcessGroupNCCL over `store` for tensors on `device` (cuda:N). Collectives that fail or do
// not complete within `timeout` throw from Work::wait() (blocking wait, see the .cpp) instead of
// aborting the process. Connects at once (a one-element all-reduce), so a missing rank or an NCCL
// failure surfaces here, not at the first gradient. Throws when not compiled.
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout,
                                                    const at::Device& device);

}  // namespace rdpo
