// Every asynchronous native call runs on one long-lived compute thread, whichever libuv pool thread
// picked it up (that thread only waits). Why: glibc gives each thread that allocates its own malloc
// arena, and freed memory is reused only within the arena it came from. When training steps ran on
// whichever of the four pool threads was free, each thread's arena kept its own share of the large
// step buffers (peak RSS grew to ~4 GB on the 135M bench model); on one thread, one arena's free
// memory serves every step. glibc's M_ARENA_MAX cannot be set from here: the arena limit is fixed
// by the first thread that allocates, long before the addon loads. LibTorch's own intra-op threads
// are unaffected (they parallelise within each call as before). Calls run one at a time, in order.
#pragma once
#include <functional>

namespace rdpo::napi {

// Runs `work` on the compute thread and waits for it; exceptions propagate to the caller.
void run_on_compute_thread(const std::function<void()>& work);

}  // namespace rdpo::napi
