// Argument checks shared by the binding files: wrong kinds are TypeError, bad values RangeError.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

namespace rdpo::napi {

std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* name);
double arg_number(const Napi::CallbackInfo& info, size_t i, const char* name);
int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max);
Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* name);
std::vector<int64_t> arg_shape(const Napi::Value& value, const char* name);

// Optional fields of an options object; absent or undefined gives the fallback.
std::string opt_string(const Napi::Object& obj, const char* key, const std::string& fallback);
double opt_number(const Napi::Object& obj, const char* key, double fallback);
int64_t opt_int(const Napi::Object& obj, const char* key, int64_t fallback, int64_t min, int64_t max);
bool opt_bool(const Napi::Object& obj, const char* key, bool fallback);
// A required integer field: absent is a TypeError, a non-integer or out-of-range value a RangeError.
// (A fallback that lies outside [min, max] must never stand in for a missing value: h = 0 divided by zero.)
int64_t req_int(const Napi::Object& obj, const char* key, int64_t min, int64_t max);

}  // namespace rdpo::napi
