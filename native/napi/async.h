// Promise-returning work off the event loop. A libuv pool thread picks the work up and hands it
// to the compute thread (napi/compute_thread.h); its result is turned into JS values back on the
// main thread. Inputs borrowed from JS stay pinned (referenced) until the promise settles.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <vector>

#include "core/runtime/profiler.h"
#include "napi/compute_thread.h"
#include "napi/errors.h"

namespace rdpo::napi {

using ToJs = std::function<Napi::Value(Napi::Env)>;

class PromiseWorker : public Napi::AsyncWorker {
 public:
  // `work` runs off the main thread and returns a converter that runs on it.
  PromiseWorker(Napi::Env env, std::function<ToJs()> work, std::vector<Napi::Reference<Napi::Value>> pins)
      : Napi::AsyncWorker(env, "rdpo-native"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        pins_(std::move(pins)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      // On the one compute thread (napi/compute_thread.h: one malloc arena for all steps).
      run_on_compute_thread([this] {
        rdpo::ProfiledThread profiled;  // joins RDPO_PROFILE / bench --profile traces, if one runs
        to_js_ = work_();
      });
    } catch (...) {
      error_ = capture_error(std::current_exception());
      failed_ = true;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (failed_) {
      deferred_.Reject(to_js_error(env, error_).Value());
      return;
    }
    try {
      deferred_.Resolve(to_js_ ? to_js_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(to_js_error(env, capture_error(std::current_exception())).Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<ToJs()> work_;
  std::vector<Napi::Reference<Napi::Value>> pins_;  // released when the worker is destroyed (main thread)
  ToJs to_js_;
  CapturedError error_;
  bool failed_ = false;
};

// Queues `work`, pinning `pinned` JS values for its duration, and returns its promise.
inline Napi::Promise run_async(Napi::Env env, std::function<ToJs()> work, const std::vector<Napi::Value>& pinned = {}) {
  std::vector<Napi::Reference<Napi::Value>> pins;
  pins.reserve(pinned.size());
  for (const auto& v : pinned) pins.push_back(Napi::Persistent(v));
  auto* worker = new PromiseWorker(env, std::move(work), std::move(pins));
  auto promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace rdpo::napi
