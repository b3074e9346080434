// Peak bytes of CPU tensor memory allocated while a meter is alive: LibTorch's CPU allocator is
// wrapped by a counting one for the meter's lifetime. Only allocations made inside the window
// count (and their frees); memory the BLAS library allocates on its own is not seen. Used to
// compare the loss stage's memory (fused vs unfused) on machines without a GPU.
#pragma once
#include <cstdint>

namespace rdpo {

class CpuAllocationMeter {
 public:
  CpuAllocationMeter();   // starts counting; throws std::logic_error if another meter is alive
  ~CpuAllocationMeter();  // stops counting (tensors allocated meanwhile stay valid)
  CpuAllocationMeter(const CpuAllocationMeter&) = delete;
  CpuAllocationMeter& operator=(const CpuAllocationMeter&) = delete;

  int64_t peak_bytes() const;     // most bytes live at once among the window's allocations
  int64_t current_bytes() const;  // bytes of the window's allocations still live
};

}  // namespace rdpo
