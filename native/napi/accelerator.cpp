// deviceMemoryStats(device), resetDevicePeakMemory(device), synchronizeDevice(device): the accelerator state bench
// reads.
#include <napi.h>

#include "core/runtime/accelerator.h"
#include "napi/args.h"
#include "napi/errors.h"
#include "napi/registry.h"

namespace rdpo::napi {
namespace {

// deviceMemoryStats(device) -> {allocatedBytes, peakAllocatedBytes, reservedBytes, peakReservedBytes} | null
Napi::Value DeviceMemoryStatsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string device = arg_string(info, 0, "device");
  return guarded(env, [&]() -> Napi::Value {
    auto s = rdpo::device_memory_stats(device);
    if (!s) return env.Null();
    auto o = Napi::Object::New(env);
    o.Set("allocatedBytes", static_cast<double>(s->allocated_bytes));
    o.Set("peakAllocatedBytes", static_cast<double>(s->peak_allocated_bytes));
    o.Set("reservedBytes", static_cast<double>(s->reserved_bytes));
    o.Set("peakReservedBytes", static_cast<double>(s->peak_reserved_bytes));
    return o;
  });
}

Napi::Value ResetDevicePeakMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string device = arg_string(info, 0, "device");
  return guarded(env, [&]() -> Napi::Value {
    rdpo::reset_device_peak_memory(device);
    return env.Undefined();
  });
}

Napi::Value SynchronizeDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string device = arg_string(info, 0, "device");
  return guarded(env, [&]() -> Napi::Value {
    rdpo::synchronize_device(device);
    return env.Undefined();
  });
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("deviceMemoryStats", Napi::Function::New(env, DeviceMemoryStatsJs, "deviceMemoryStats"));
  exports.Set("resetDevicePeakMemory", Napi::Function::New(env, ResetDevicePeakMemory, "resetDevicePeakMemory"));
  exports.Set("synchronizeDevice", Napi::Function::New(env, SynchronizeDevice, "synchronizeDevice"));
}

RDPO_NAPI_EXPORTS(Export);

}  // namespace
}  // namespace rdpo::napi
