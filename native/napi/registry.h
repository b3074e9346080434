// How binding files register what they export, and where they keep per-environment state.
//
// Exports: each binding file registers an export function at static-initialisation time
// (RDPO_NAPI_EXPORTS), so adding a wrapped concept means adding one file and nothing else. The list
// holds plain function pointers, the same for every environment.
//
// Per-environment state: the main thread and each worker_threads Worker are separate Node-API
// environments, and Init runs once in each. A JS class (a Napi::FunctionReference) belongs to the
// environment that defined it, so it must never sit in a static: the last environment to load the
// addon would overwrite the others', and a worker's exit would leave the main thread with a dead
// reference. AddonState, stored as the environment's instance data (napi_set_instance_data), holds
// each environment's classes instead:
//   in Export:  exports.Set("NativeModel", AddonState::of(env).define_class("NativeModel", DefineClass(env, ...)));
//   to wrap:    AddonState::of(env).constructor(env, "NativeModel").New({external});
//   to check:   value.As<Napi::Object>().InstanceOf(AddonState::of(env).constructor(env, "NativeModel"))
#pragma once
#include <napi.h>

#include <map>
#include <string>
#include <vector>

namespace rdpo::napi {

using ExportFn = void (*)(Napi::Env env, Napi::Object exports);

inline std::vector<ExportFn>& export_registry() {
  static std::vector<ExportFn> registry;
  return registry;
}

struct ExportRegistration {
  explicit ExportRegistration(ExportFn fn) { export_registry().push_back(fn); }
};

// One environment's state, created by Init before any export function runs and deleted when the
// environment is torn down (a worker's exit, or the main thread's).
class AddonState {
 public:
  // This environment's state (Init created it).
  static AddonState& of(Napi::Env env);
  // Keeps `cls` for this environment under `name` and returns it, for exports.Set.
  Napi::Function define_class(const std::string& name, Napi::Function cls);
  // The class `name` as this environment defined it; an Error if no binding file defined it.
  Napi::Function constructor(Napi::Env env, const std::string& name) const;

 private:
  std::map<std::string, Napi::FunctionReference> classes_;
};

// Entry points that exist for tests and benchmarks (bridge probes, loss kernels called directly)
// go on `exports.testing`, apart from the API the library itself uses.
inline Napi::Object testing_exports(Napi::Env env, Napi::Object exports) {
  if (!exports.Has("testing")) exports.Set("testing", Napi::Object::New(env));
  return exports.Get("testing").As<Napi::Object>();
}

}  // namespace rdpo::napi

#define RDPO_NAPI_EXPORTS(fn) static ::rdpo::napi::ExportRegistration rdpo_napi_exports_##fn(&fn)
