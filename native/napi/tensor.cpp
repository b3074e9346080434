// NativeTensor: a tensor owned by the native side, seen from JS. `data()` is a typed array over
// the tensor's own storage (no copy); the storage lives as long as any view of it.
#include <napi.h>

#include <cmath>

#include "core/base/dtype.h"
#include "napi/args.h"
#include "napi/errors.h"
#include "napi/registry.h"
#include "napi/tensor.h"
#include "napi/typed_array.h"

namespace rdpo::napi {

Napi::Function NativeTensor::Define(Napi::Env env) {
  Napi::Function cls =
      DefineClass(env, "NativeTensor",
                  {InstanceAccessor<&NativeTensor::Dtype>("dtype"), InstanceAccessor<&NativeTensor::Shape>("shape"),
                   InstanceAccessor<&NativeTensor::Device>("device"), InstanceMethod<&NativeTensor::Data>("data"),
                   InstanceMethod<&NativeTensor::Sum>("sum")});
  return AddonState::of(env).define_class("NativeTensor", cls);
}

NativeTensor::NativeTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTensor>(info) {
  if (!info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "NativeTensor is created by native functions, not by `new`");
  tensor_ = *info[0].As<Napi::External<at::Tensor>>().Data();
}

Napi::Object NativeTensor::Wrap(Napi::Env env, at::Tensor tensor) {
  at::Tensor local = std::move(tensor);
  auto ext = Napi::External<at::Tensor>::New(env, &local);
  // The constructor copies the handle before `local` goes away.
  return AddonState::of(env).constructor(env, "NativeTensor").New({ext});
}

Napi::Value NativeTensor::Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), rdpo::dtype_name(tensor_.scalar_type()));
}

Napi::Value NativeTensor::Shape(const Napi::CallbackInfo& info) {
  auto arr = Napi::Array::New(info.Env(), tensor_.dim());
  for (int64_t i = 0; i < tensor_.dim(); ++i)
    arr.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), tensor_.size(i)));
  return arr;
}

Napi::Value NativeTensor::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), tensor_.device().str());
}

Napi::Value NativeTensor::Data(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (!tensor_.device().is_cpu()) tensor_ = tensor_.cpu();
    if (!tensor_.is_contiguous()) tensor_ = tensor_.contiguous();
    return tensor_to_typed_array(info.Env(), tensor_);
  });
}

Napi::Value NativeTensor::Sum(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    torch::NoGradGuard no_grad;
    return Napi::Number::New(info.Env(), tensor_.to(torch::kFloat64).sum().item<double>());
  });
}

namespace {

// arange(n, dtype): a fresh native tensor 0..n-1, mainly to exercise the bridge.
Napi::Value Arange(const Napi::CallbackInfo& info) {
  int64_t n = arg_int(info, 0, "n", 0, int64_t(1) << 31);
  std::string dtype = info.Length() > 1 && !info[1].IsUndefined() ? arg_string(info, 1, "dtype") : "float32";
  return guarded(info.Env(), [&]() -> Napi::Value {
    return NativeTensor::Wrap(info.Env(), torch::arange(n, torch::TensorOptions().dtype(rdpo::parse_dtype(dtype))));
  });
}

// addInPlace(array, value[, dtype]): adds a scalar through a borrowed tensor; the caller sees the change.
Napi::Value AddInPlace(const Napi::CallbackInfo& info) {
  double value = arg_number(info, 1, "value");
  std::optional<std::string> dtype;
  if (info.Length() > 2 && !info[2].IsUndefined()) dtype = arg_string(info, 2, "dtype");
  at::Tensor t = borrow_tensor(info[0], "array", std::nullopt, dtype);
  if (!at::isFloatingType(t.scalar_type()) && std::floor(value) != value)
    throw Napi::RangeError::New(info.Env(), "'value' must be an integer for an integer array");
  return guarded(info.Env(), [&]() -> Napi::Value {
    torch::NoGradGuard no_grad;
    if (at::isFloatingType(t.scalar_type()))
      t.add_(value);
    else
      t.add_(static_cast<int64_t>(value));
    return info.Env().Undefined();
  });
}

// copyToNative(array[, shape, dtype]): a native-owned copy, for data that must outlive the call.
Napi::Value CopyToNative(const Napi::CallbackInfo& info) {
  std::optional<std::vector<int64_t>> shape;
  if (info.Length() > 1 && !info[1].IsUndefined()) shape = arg_shape(info[1], "shape");
  std::optional<std::string> dtype;
  if (info.Length() > 2 && !info[2].IsUndefined()) dtype = arg_string(info, 2, "dtype");
  at::Tensor t = borrow_tensor(info[0], "array", shape, dtype);
  return guarded(info.Env(), [&]() -> Napi::Value { return NativeTensor::Wrap(info.Env(), t.clone()); });
}

Napi::Value BridgeStatsJs(const Napi::CallbackInfo& info) {
  auto s = bridge_stats();
  auto obj = Napi::Object::New(info.Env());
  obj.Set("external", Napi::Number::New(info.Env(), static_cast<double>(s.external)));
  obj.Set("copied", Napi::Number::New(info.Env(), static_cast<double>(s.copied)));
  return obj;
}

void Export(Napi::Env env, Napi::Object exports) {
  Napi::Object testing = testing_exports(env, exports);
  testing.Set("NativeTensor", NativeTensor::Define(env));
  testing.Set("arange", Napi::Function::New(env, Arange, "arange"));
  testing.Set("addInPlace", Napi::Function::New(env, AddInPlace, "addInPlace"));
  testing.Set("copyToNative", Napi::Function::New(env, CopyToNative, "copyToNative"));
  testing.Set("bridgeStats", Napi::Function::New(env, BridgeStatsJs, "bridgeStats"));
}

RDPO_NAPI_EXPORTS(Export);

}  // namespace
}  // namespace rdpo::napi
