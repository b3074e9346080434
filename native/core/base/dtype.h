// String names for dtypes and devices as the TypeScript side spells them.
#pragma once
#include <string>

#include <torch/torch.h>

namespace rdpo {

// "float32" | "float16" | "bfloat16" | "int32" | "int64" | "uint8"; anything else is an ArgumentError.
c10::ScalarType parse_dtype(const std::string& name);
std::string dtype_name(c10::ScalarType type);
// "cpu" | "cuda" | "cuda:N" | "mps"; an unavailable device is an ArgumentError that says so.
c10::Device parse_device(const std::string& name);

}  // namespace rdpo
