// Error kinds the core raises. The binding maps them onto JavaScript's error classes;
// the standalone driver prints them. Anything else (c10::Error, std::exception) is a plain Error.
#pragma once
#include <stdexcept>
#include <string>

namespace rdpo {

// The caller passed the wrong kind of thing (wrong dtype, missing field). JS: TypeError.
struct ArgumentError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// The caller passed a value outside what is allowed (negative size, wrong length). JS: RangeError.
struct RangeError : std::out_of_range {
  using std::out_of_range::out_of_range;
};

}  // namespace rdpo
