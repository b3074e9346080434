#include "napi/typed_array.h"

#include <atomic>
#include <cstring>

#include "core/base/dtype.h"

namespace rdpo::napi {
namespace {

std::atomic<int64_t> g_external{0};
std::atomic<int64_t> g_copied{0};

c10::ScalarType natural_dtype(napi_typedarray_type type, Napi::Env env, const char* name) {
  switch (type) {
    case napi_float32_array:
      return torch::kFloat32;
    case napi_float64_array:
      return torch::kFloat64;
    case napi_int32_array:
      return torch::kInt32;
    case napi_bigint64_array:
      return torch::kInt64;
    case napi_uint8_array:
      return torch::kUInt8;
    case napi_int8_array:
      return torch::kInt8;
    case napi_int16_array:
      return torch::kInt16;
    case napi_uint16_array:
      throw Napi::TypeError::New(
          env, std::string("'") + name + "' is a Uint16Array: say whether it holds bfloat16 or float16 (dtype)");
    default:
      throw Napi::TypeError::New(env, std::string("'") + name +
                                          "' has an unsupported typed array type: use Float32Array, Int32Array, "
                                          "BigInt64Array, Uint8Array or Uint16Array (bf16/f16)");
  }
}

bool compatible(napi_typedarray_type type, c10::ScalarType dtype) {
  switch (type) {
    case napi_uint16_array:
      return dtype == torch::kBFloat16 || dtype == torch::kFloat16;
    case napi_float32_array:
      return dtype == torch::kFloat32;
    case napi_float64_array:
      return dtype == torch::kFloat64;
    case napi_int32_array:
      return dtype == torch::kInt32;
    case napi_bigint64_array:
      return dtype == torch::kInt64;
    case napi_uint8_array:
      return dtype == torch::kUInt8 || dtype == torch::kBool;
    case napi_int8_array:
      return dtype == torch::kInt8;
    case napi_int16_array:
      return dtype == torch::kInt16;
    default:
      return false;
  }
}

}  // namespace

at::Tensor borrow_tensor(const Napi::Value& value, const char* name, std::optional<std::vector<int64_t>> shape,
                         std::optional<std::string> dtype) {
  Napi::Env env = value.Env();
  if (!value.IsTypedArray()) throw Napi::TypeError::New(env, std::string("'") + name + "' must be a typed array");
  auto arr = value.As<Napi::TypedArray>();
  napi_typedarray_type type = arr.TypedArrayType();
  c10::ScalarType st;
  if (dtype) {
    try {
      st = rdpo::parse_dtype(*dtype);
    } catch (const std::exception& e) {
      throw Napi::TypeError::New(env, std::string("'") + name + "': " + e.what());
    }
    if (!compatible(type, st))
      throw Napi::TypeError::New(env, std::string("'") + name + "' cannot hold dtype " + *dtype);
  } else {
    st = natural_dtype(type, env, name);
  }
  int64_t length = static_cast<int64_t>(arr.ElementLength());
  std::vector<int64_t> dims = shape ? *shape : std::vector<int64_t>{length};
  int64_t numel = 1;
  for (auto d : dims) numel *= d;
  if (numel != length)
    throw Napi::RangeError::New(env, std::string("'") + name + "' has " + std::to_string(length) +
                                         " elements but its shape needs " + std::to_string(numel));
  auto buffer = arr.ArrayBuffer();
  uint8_t* base = static_cast<uint8_t*>(buffer.Data());
  if (length == 0) return torch::empty(dims, torch::TensorOptions().dtype(st));
  // No deleter: the JS object owns the memory and is pinned for the duration of the call.
  return torch::from_blob(base + arr.ByteOffset(), dims, torch::TensorOptions().dtype(st));
}

const char* typed_array_name(c10::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return "Float32Array";
    case torch::kFloat64:
      return "Float64Array";
    case torch::kInt32:
      return "Int32Array";
    case torch::kInt64:
      return "BigInt64Array";
    case torch::kUInt8:
    case torch::kBool:
      return "Uint8Array";
    case torch::kBFloat16:
    case torch::kFloat16:
      return "Uint16Array";
    case torch::kInt8:
      return "Int8Array";
    case torch::kInt16:
      return "Int16Array";
    default:
      return nullptr;
  }
}

Napi::TypedArray tensor_to_typed_array(Napi::Env env, const at::Tensor& input) {
  if (!input.device().is_cpu())
    throw Napi::Error::New(env, "internal: tensor must be on the CPU before it is handed to JS");
  napi_typedarray_type type;
  switch (input.scalar_type()) {
    case torch::kFloat32:
      type = napi_float32_array;
      break;
    case torch::kFloat64:
      type = napi_float64_array;
      break;
    case torch::kInt32:
      type = napi_int32_array;
      break;
    case torch::kInt64:
      type = napi_bigint64_array;
      break;
    case torch::kUInt8:
    case torch::kBool:
      type = napi_uint8_array;
      break;
    case torch::kBFloat16:
    case torch::kFloat16:
      type = napi_uint16_array;
      break;
    case torch::kInt8:
      type = napi_int8_array;
      break;
    case torch::kInt16:
      type = napi_int16_array;
      break;
    default:
      throw Napi::TypeError::New(env,
                                 std::string("cannot hand a ") + c10::toString(input.scalar_type()) + " tensor to JS");
  }
  at::Tensor t = input.contiguous();
  size_t count = static_cast<size_t>(t.numel());
  size_t bytes = count * t.element_size();
  napi_value ab = nullptr;
  napi_status status = napi_generic_failure;
  if (bytes > 0) {
    auto* holder = new at::Tensor(t);
    status = napi_create_external_arraybuffer(
        env, t.data_ptr(), bytes, [](napi_env, void*, void* hint) { delete static_cast<at::Tensor*>(hint); }, holder,
        &ab);
    if (status != napi_ok)
      delete holder;
    else
      g_external++;
  }
  if (status != napi_ok) {
    // Runtimes with a V8 sandbox (Electron) forbid external buffers: one copy instead.
    void* dst = nullptr;
    if (napi_create_arraybuffer(env, bytes, &dst, &ab) != napi_ok)
      throw Napi::Error::New(env, "could not allocate an ArrayBuffer of " + std::to_string(bytes) + " bytes");
    if (bytes) std::memcpy(dst, t.data_ptr(), bytes);
    g_copied++;
  }
  napi_value out = nullptr;
  if (napi_create_typedarray(env, type, count, ab, 0, &out) != napi_ok)
    throw Napi::Error::New(env, "could not create a typed array over the tensor");
  return Napi::TypedArray(env, out);
}

BridgeStats bridge_stats() { return {g_external.load(), g_copied.load()}; }

}  // namespace rdpo::napi
