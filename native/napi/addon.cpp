// Module entry: collects what every binding file registered.
#include <napi.h>

#include "napi/registry.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto fn : rdpo::napi::export_registry()) fn(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(rdpo_native, Init)
