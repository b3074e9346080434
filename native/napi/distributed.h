// The native side of a NativeProcessGroup, for the binding files that train with one
// (preference_trainer.cpp attaches it to a trainer).
#pragma once
#include <napi.h>

#include <memory>

#include "core/distributed/process_group.h"

namespace rdpo::napi {

// The process group behind a JS NativeProcessGroup; TypeError when `value` is not one.
std::shared_ptr<rdpo::ProcessGroup> process_group_of(const Napi::Value& value, const char* name);

}  // namespace rdpo::napi
