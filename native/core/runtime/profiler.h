// Chrome traces of LibTorch's own profiler (Kineto, CPU activities) around chosen work, for
// `RDPO_PROFILE=trace.json` and `rdpo-native bench --profile FILE`. Native calls run on libuv
// pool threads, not on the thread that started the profile, so each of them joins the running
// profile for its duration (ProfiledThread). Named scopes (rdpo::reference, rdpo::forward_backward,
// rdpo::optimizer_step ...) mark the trainer's phases so a trace can be split by phase.
#pragma once
#include <string>

namespace rdpo {

// Starts collecting; throws ArgumentError when a profile is already running.
void start_profiler();
// Stops collecting and writes the Chrome trace (JSON) to `path`.
void stop_profiler(const std::string& path);
bool profiler_running();

// While alive, ops run by this thread are recorded into the running profile (if any).
class ProfiledThread {
 public:
  ProfiledThread();
  ~ProfiledThread();
  ProfiledThread(const ProfiledThread&) = delete;
  ProfiledThread& operator=(const ProfiledThread&) = delete;

 private:
  bool joined_ = false;
};

}  // namespace rdpo
