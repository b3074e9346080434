// Large tensor buffers and glibc malloc: by default glibc serves big allocations from per-thread
// arenas (its mmap threshold grows to 32 MiB after the first frees) and keeps what is freed for
// reuse. Native calls run on whichever libuv worker is free, so a training run spreads its large,
// short-lived buffers over several arenas that each keep their share: peak RSS grows step after
// step (3.7 GB on the 135M bench model, float32, batch 2).
//
// First fix (until 2026-11-30): serve every allocation of 128 KiB or more with mmap, so frees go
// back to the system: peak RSS 2.5 GB, but every large buffer of every step is then fresh memory,
// page-faulted and zeroed by the kernel on first touch, and unmapped again on free. The profile
// (docs/benchmarks.md) showed that cost hiding in the bf16 casts and the gradient frees.
//
// Now: a fixed 32 MiB mmap threshold (buffers below it are reused from the heap; the largest —
// embedding-sized gradients, logits chunks — still come from mmap), with every native call on one
// compute thread (napi/compute_thread.h) so that one arena serves all steps. Measured on the bench
// model (bf16, batch 2, one intra-op thread, separate processes interleaved): 3.46 → 2.39 CPU s
// per step; peak RSS 2.67 → 2.79 GB (4.07 GB with the same threshold but calls spread over the
// pool threads' arenas).

#pragma once
#include <cstddef>

namespace rdpo {

// Sets glibc's mmap threshold (bytes; a no-op elsewhere). Returns whether it applied.
bool set_malloc_mmap_threshold(std::size_t bytes);

}  // namespace rdpo
