// Each binding file registers its exports here at static-initialisation time, so adding a
// wrapped concept means adding one file and nothing else.
#pragma once
#include <napi.h>

#include <functional>
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

// Entry points that exist for tests and benchmarks (bridge probes, loss kernels called directly)
// go on `exports.testing`, apart from the API the library itself uses.
inline Napi::Object testing_exports(Napi::Env env, Napi::Object exports) {
  if (!exports.Has("testing")) exports.Set("testing", Napi::Object::New(env));
  return exports.Get("testing").As<Napi::Object>();
}

}  // namespace rdpo::napi

#define RDPO_NAPI_EXPORTS(fn) static ::rdpo::napi::ExportRegistration rdpo_napi_exports_##fn(&fn)
