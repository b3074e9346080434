// The accelerator's runtime state the bench reads: memory high-water marks from LibTorch's caching
// allocator (CUDA, or whichever accelerator the build has) and a device-wide synchronize. On CPU
// both are no-ops (CPU work is synchronous and has no caching allocator).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace rdpo {

struct DeviceMemoryStats {
  int64_t allocated_bytes = 0;       // bytes held by live tensors now
  int64_t peak_allocated_bytes = 0;  // their high-water mark since start or the last reset
  int64_t reserved_bytes = 0;        // bytes the caching allocator holds from the driver now
  int64_t peak_reserved_bytes = 0;
};

// Stats of `device` ("cuda", "cuda:N", ...); nullopt for "cpu" and for devices without a caching allocator.
std::optional<DeviceMemoryStats> device_memory_stats(const std::string& device);
// Starts a new high-water mark on `device`; a no-op where device_memory_stats gives nullopt.
void reset_device_peak_memory(const std::string& device);
// Waits for all work queued on `device`; returns at once for "cpu".
void synchronize_device(const std::string& device);

}  // namespace rdpo
