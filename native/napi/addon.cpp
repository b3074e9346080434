// Module entry: collects what every binding file registered.
#include <napi.h>

#include <cstdlib>
#include <string>

#include "core/malloc_tuning.h"
#include "napi/registry.h"

namespace {

// One malloc arena and a 32 MiB mmap threshold unless RDPO_MALLOC_ARENA_MAX /
// RDPO_MALLOC_MMAP_THRESHOLD say otherwise (0 leaves glibc's default): see core/malloc_tuning.h
// for why and what it measured. (glibc's own MALLOC_ARENA_MAX=1 in the environment also covers
// threads that Node started before the addon loaded.)
void tune_malloc() {
  const char* threshold = std::getenv("RDPO_MALLOC_MMAP_THRESHOLD");
  long bytes = threshold ? std::atol(threshold) : 32L * 1024 * 1024;
  if (bytes > 0) rdpo::set_malloc_mmap_threshold(static_cast<std::size_t>(bytes));
  const char* arenas = std::getenv("RDPO_MALLOC_ARENA_MAX");
  long n = arenas ? std::atol(arenas) : 1;
  if (n > 0) rdpo::set_malloc_arena_max(static_cast<int>(n));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tune_malloc();
  for (auto fn : rdpo::napi::export_registry()) fn(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(rdpo_native, Init)
