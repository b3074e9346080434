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

}  // namespace rdpo::napi

#define RDPO_NAPI_EXPORTS(fn) static ::rdpo::napi::ExportRegistration rdpo_napi_exports_##fn(&fn)
