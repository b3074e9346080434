#include "napi/args.h"

#include <cmath>
#include <limits>

namespace rdpo::napi {
namespace {

Napi::Value arg_at(const Napi::CallbackInfo& info, size_t i, const char* name, const char* kind) {
  if (info.Length() <= i || info[i].IsUndefined())
    throw Napi::TypeError::New(info.Env(), std::string("missing argument '") + name + "' (" + kind + ")");
  return info[i];
}

int64_t check_int(Napi::Env env, double v, const std::string& name, int64_t min, int64_t max) {
  if (!std::isfinite(v) || std::floor(v) != v)
    throw Napi::RangeError::New(env, "'" + name + "' must be an integer, got " + std::to_string(v));
  if (v < static_cast<double>(min) || v > static_cast<double>(max))
    throw Napi::RangeError::New(env, "'" + name + "' must be in " + std::to_string(min) + ".." + std::to_string(max) +
                                         ", got " + std::to_string(static_cast<int64_t>(v)));
  return static_cast<int64_t>(v);
}

}  // namespace

std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* name) {
  auto v = arg_at(info, i, name, "string");
  if (!v.IsString()) throw Napi::TypeError::New(info.Env(), std::string("'") + name + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double arg_number(const Napi::CallbackInfo& info, size_t i, const char* name) {
  auto v = arg_at(info, i, name, "number");
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("'") + name + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max) {
  return check_int(info.Env(), arg_number(info, i, name), name, min, max);
}

Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* name) {
  auto v = arg_at(info, i, name, "object");
  if (!v.IsObject()) throw Napi::TypeError::New(info.Env(), std::string("'") + name + "' must be an object");
  return v.As<Napi::Object>();
}

std::vector<int64_t> arg_shape(const Napi::Value& value, const char* name) {
  auto env = value.Env();
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string("'") + name + "' must be an array of integers");
  auto arr = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value d = arr.Get(i);
    if (!d.IsNumber()) throw Napi::TypeError::New(env, std::string("'") + name + "' must contain only numbers");
    shape.push_back(check_int(env, d.As<Napi::Number>().DoubleValue(),
                              std::string(name) + "[" + std::to_string(i) + "]", 0,
                              std::numeric_limits<int32_t>::max()));
  }
  return shape;
}

std::string opt_string(const Napi::Object& obj, const char* key, const std::string& fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(obj.Env(), std::string("option '") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double opt_number(const Napi::Object& obj, const char* key, double fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(obj.Env(), std::string("option '") + key + "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isnan(d)) throw Napi::RangeError::New(obj.Env(), std::string("option '") + key + "' is NaN");
  return d;
}

int64_t opt_int(const Napi::Object& obj, const char* key, int64_t fallback, int64_t min, int64_t max) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (fallback < min || fallback > max)  // a programming error in the binding, not the caller's
      throw Napi::Error::New(obj.Env(), std::string("internal: option '") + key + "' has an out-of-range default");
    return fallback;
  }
  if (!v.IsNumber()) throw Napi::TypeError::New(obj.Env(), std::string("option '") + key + "' must be a number");
  return check_int(obj.Env(), v.As<Napi::Number>().DoubleValue(), std::string("option '") + key + "'", min, max);
}

int64_t req_int(const Napi::Object& obj, const char* key, int64_t min, int64_t max) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull())
    throw Napi::TypeError::New(obj.Env(), std::string("option '") + key + "' is required (an integer in " +
                                              std::to_string(min) + ".." + std::to_string(max) + ")");
  if (!v.IsNumber()) throw Napi::TypeError::New(obj.Env(), std::string("option '") + key + "' must be a number");
  return check_int(obj.Env(), v.As<Napi::Number>().DoubleValue(), std::string("option '") + key + "'", min, max);
}

bool opt_bool(const Napi::Object& obj, const char* key, bool fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(obj.Env(), std::string("option '") + key + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace rdpo::napi
