// C++ exceptions become JavaScript errors: argument mistakes as TypeError/RangeError,
// LibTorch errors as Error carrying the short message (no C++ backtrace).
#pragma once
#include <napi.h>

#include <exception>
#include <string>

namespace rdpo::napi {

enum class ErrorKind { Error, TypeError, RangeError };

struct CapturedError {
  ErrorKind kind = ErrorKind::Error;
  std::string message;
};

// Classifies the exception currently in flight (call inside a catch block, or with a stored exception_ptr).
CapturedError capture_error(std::exception_ptr error);

Napi::Error to_js_error(Napi::Env env, const CapturedError& error);

// Runs fn, turning any C++ exception into a thrown JS error of the right class.
template <typename Fn>
Napi::Value guarded(Napi::Env env, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw to_js_error(env, capture_error(std::current_exception()));
  }
}

}  // namespace rdpo::napi
