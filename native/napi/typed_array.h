// Zero-copy exchange between JS typed arrays and tensors.
//  - borrow_tensor: a tensor over the typed array's own memory (from_blob, any byteOffset).
//    Valid only while the array is pinned: pass the array to run_async's pinned list.
//  - tensor_to_typed_array: a typed array over the tensor's storage (external ArrayBuffer
//    whose finalizer releases the tensor); one copy where external buffers are forbidden.
#pragma once
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace rdpo::napi {

// dtype defaults to the array's natural type; Uint16Array needs "bfloat16" or "float16".
// shape defaults to [length]; its element count must equal the array's length (RangeError).
at::Tensor borrow_tensor(const Napi::Value& value, const char* name,
                         std::optional<std::vector<int64_t>> shape = std::nullopt,
                         std::optional<std::string> dtype = std::nullopt);

// Requires a CPU tensor; non-contiguous tensors are made contiguous first.
Napi::TypedArray tensor_to_typed_array(Napi::Env env, const at::Tensor& tensor);

// The JS typed-array class name a dtype travels in ("Float32Array", ...).
const char* typed_array_name(c10::ScalarType type);

// Counts external buffers created and those that fell back to a copy (tests and doctor read it).
struct BridgeStats {
  int64_t external = 0;
  int64_t copied = 0;
};
BridgeStats bridge_stats();

}  // namespace rdpo::napi
