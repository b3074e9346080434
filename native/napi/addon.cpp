// Module entry: collects what every binding file registered.
#include <napi.h>

#include <cstdlib>
#include <string>

#include "core/malloc_tuning.h"
#include "napi/registry.h"

namespace {

// A 32 MiB mmap threshold unless RDPO_MALLOC_MMAP_THRESHOLD says otherwise (0 leaves glibc's
// default): see core/malloc_tuning.h for why and what it measured.
void tune_malloc() {
  const char* env = std::getenv("RDPO_MALLOC_MMAP_THRESHOLD");
  long bytes = env ? std::atol(env) : 32L * 1024 * 1024;
  if (bytes > 0) rdpo::set_malloc_mmap_threshold(static_cast<std::size_t>(bytes));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tune_malloc();
  for (auto fn : rdpo::napi::export_registry()) fn(env, exports);
  // lib/native/load.ts refuses an addon whose abiVersion differs: bump it when an export changes.
  exports.Set("abiVersion", Napi::Number::New(env, 3));
  return exports;
}

}  // namespace

NODE_API_MODULE(rdpo_native, Init)
