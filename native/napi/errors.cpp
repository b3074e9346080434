#include "napi/errors.h"

#include <c10/util/Exception.h>

#include "core/base/errors.h"

namespace rdpo::napi {

CapturedError capture_error(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const rdpo::ArgumentError& e) {
    return {ErrorKind::TypeError, e.what()};
  } catch (const rdpo::RangeError& e) {
    return {ErrorKind::RangeError, e.what()};
  } catch (const c10::TypeError& e) {
    return {ErrorKind::TypeError, e.what_without_backtrace()};
  } catch (const c10::IndexError& e) {
    return {ErrorKind::RangeError, e.what_without_backtrace()};
  } catch (const c10::Error& e) {
    return {ErrorKind::Error, e.what_without_backtrace()};
  } catch (const std::bad_alloc&) {
    return {ErrorKind::Error, "out of memory"};
  } catch (const std::exception& e) {
    return {ErrorKind::Error, e.what()};
  } catch (...) {
    return {ErrorKind::Error, "unknown native error"};
  }
}

Napi::Error to_js_error(Napi::Env env, const CapturedError& error) {
  // LibTorch messages can end with a newline and an "Exception raised from" line in some builds.
  std::string msg = error.message;
  auto cut = msg.find("\nException raised from");
  if (cut != std::string::npos) msg = msg.substr(0, cut);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  switch (error.kind) {
    case ErrorKind::TypeError:
      return Napi::TypeError::New(env, msg);
    case ErrorKind::RangeError:
      return Napi::RangeError::New(env, msg);
    default:
      return Napi::Error::New(env, msg);
  }
}

}  // namespace rdpo::napi
