// The native side of a NativeModel, shared by the binding files that compute with a model
// (model.cpp, preference_trainer.cpp).
#pragma once
#include <napi.h>

#include <memory>
#include <mutex>

#include "core/model/causal_lm.h"
#include "core/base/errors.h"

namespace rdpo::napi {

// Shared between the JS wrapper and in-flight work, so dispose() cannot free a model under a running call.
struct ModelHolder {
  std::mutex mutex;
  std::unique_ptr<rdpo::CausalLM> model;  // null once disposed
  bool dispose_requested = false;

  // Runs fn(model) with the lock held: calls on one model are serialised, never raced.
  // A dispose() that arrived meanwhile takes effect afterwards.
  template <typename Fn>
  auto with_model(Fn&& fn) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!model) throw rdpo::ArgumentError("this model was disposed");
    struct ReleaseAfter {
      ModelHolder& h;
      ~ReleaseAfter() {
        if (h.dispose_requested) h.model.reset();
      }
    } release{*this};
    return fn(*model);
  }
};

// The holder behind a JS NativeModel; TypeError when `value` is not one.
std::shared_ptr<ModelHolder> model_holder_of(const Napi::Value& value, const char* name);

}  // namespace rdpo::napi
