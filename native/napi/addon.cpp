// Module entry: runs once per environment (the main thread and each worker thread), creates that
// environment's AddonState (napi/registry.h) and collects what every binding file registered.
#include <napi.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "core/runtime/malloc_tuning.h"
#include "napi/registry.h"

namespace rdpo::napi {

AddonState& AddonState::of(Napi::Env env) {
  auto* state = env.GetInstanceData<AddonState>();
  if (!state) throw Napi::Error::New(env, "internal: the addon's state for this environment is missing");
  return *state;
}

Napi::Function AddonState::define_class(const std::string& name, Napi::Function cls) {
  classes_[name] = Napi::Persistent(cls);
  return cls;
}

Napi::Function AddonState::constructor(Napi::Env env, const std::string& name) const {
  auto it = classes_.find(name);
  if (it == classes_.end())
    throw Napi::Error::New(env, "internal: class " + name + " was not defined in this environment");
  return it->second.Value();
}

}  // namespace rdpo::napi

namespace {

// A 32 MiB mmap threshold unless RDPO_MALLOC_MMAP_THRESHOLD says otherwise (0 leaves glibc's
// default): see core/malloc_tuning.h for why and what it measured. Process-wide: once.
void tune_malloc() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("RDPO_MALLOC_MMAP_THRESHOLD");
    long bytes = env ? std::atol(env) : 32L * 1024 * 1024;
    if (bytes > 0) rdpo::set_malloc_mmap_threshold(static_cast<std::size_t>(bytes));
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tune_malloc();
  // Deleted (with its class references) when this environment is torn down.
  env.SetInstanceData(new rdpo::napi::AddonState());
  for (auto fn : rdpo::napi::export_registry()) fn(env, exports);
  // lib/native/load.ts refuses an addon whose abiVersion differs: bump it when an export changes.
  exports.Set("abiVersion", Napi::Number::New(env, 4));
  return exports;
}

}  // namespace

NODE_API_MODULE(rdpo_native, Init)
