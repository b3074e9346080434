#include "core/runtime/accelerator.h"

#include <ATen/DeviceAccelerator.h>

#include "core/base/dtype.h"

namespace rdpo {
namespace {

// The accelerator index of `device`, or nullopt when it is not the build's accelerator.
std::optional<c10::DeviceIndex> accelerator_index(const std::string& name) {
  c10::Device device = parse_device(name);
  auto accel = at::accelerator::getAccelerator(false);
  if (device.is_cpu() || !accel || *accel != device.type()) return std::nullopt;
  return device.has_index() ? device.index() : at::accelerator::getDeviceIndex();
}

}  // namespace

std::optional<DeviceMemoryStats> device_memory_stats(const std::string& device) {
  auto index = accelerator_index(device);
  if (!index) return std::nullopt;
  auto s = at::accelerator::getDeviceStats(*index);
  constexpr auto all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  DeviceMemoryStats r;
  r.allocated_bytes = s.allocated_bytes[all].current;
  r.peak_allocated_bytes = s.allocated_bytes[all].peak;
  r.reserved_bytes = s.reserved_bytes[all].current;
  r.peak_reserved_bytes = s.reserved_bytes[all].peak;
  return r;
}

void reset_device_peak_memory(const std::string& device) {
  if (auto index = accelerator_index(device)) at::accelerator::resetPeakStats(*index);
}

void synchronize_device(const std::string& device) {
  if (auto index = accelerator_index(device)) at::accelerator::synchronizeDevice(*index);
}

}  // namespace rdpo
