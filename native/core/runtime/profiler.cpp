#include "core/runtime/profiler.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "core/base/errors.h"

namespace rdpo {
namespace {

namespace prof = torch::autograd::profiler;
namespace impl = torch::profiler::impl;

std::mutex mu;
std::atomic<bool> running{false};
std::thread::id owner;

impl::ProfilerConfig config() {
  // Shapes help tell a matmul of the LM head from a decoder one; no stacks (too slow and large).
  return impl::ProfilerConfig(impl::ProfilerState::KINETO, /*report_input_shapes=*/true);
}

}  // namespace

void start_profiler() {
  std::lock_guard<std::mutex> lock(mu);
  if (running) throw ArgumentError("a profile is already running; stop it before starting another");
  const std::set<impl::ActivityType> activities{impl::ActivityType::CPU};
  prof::prepareProfiler(config(), activities);
  prof::enableProfiler(config(), activities);
  owner = std::this_thread::get_id();
  running = true;
}

void stop_profiler(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu);
  if (!running) throw ArgumentError("no profile is running (start one first)");
  if (std::this_thread::get_id() != owner)
    throw ArgumentError("the profile must be stopped on the thread that started it");
  running = false;
  auto result = prof::disableProfiler();
  result->save(path);
}

bool profiler_running() { return running; }

ProfiledThread::ProfiledThread() {
  if (!running || std::this_thread::get_id() == owner) return;
  if (!prof::isProfilerEnabledInMainThread()) return;
  prof::enableProfilerInChildThread();
  joined_ = true;
}

ProfiledThread::~ProfiledThread() {
  if (joined_) prof::disableProfilerInChildThread();
}

}  // namespace rdpo
