#include "core/base/dtype.h"

#include "core/base/errors.h"

namespace rdpo {

c10::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "float") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16" || name == "half") return torch::kFloat16;
  if (name == "int32") return torch::kInt32;
  if (name == "int64") return torch::kInt64;
  if (name == "uint8") return torch::kUInt8;
  throw ArgumentError("unknown dtype '" + name + "': use float32, bfloat16, float16, int32, int64 or uint8");
}

std::string dtype_name(c10::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return "float32";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat16:
      return "float16";
    case torch::kInt32:
      return "int32";
    case torch::kInt64:
      return "int64";
    case torch::kUInt8:
      return "uint8";
    default:
      return c10::toString(type);
  }
}

c10::Device parse_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name == "mps") {
    if (!at::hasMPS()) throw ArgumentError("device 'mps' requested, but this libtorch has no MPS support");
    return c10::Device(c10::kMPS);
  }
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw ArgumentError("device '" + name +
                          "' requested, but CUDA is not available to this libtorch "
                          "(run `rdpo-native doctor`; build against a CUDA libtorch with RDPO_LIBTORCH)");
    int index = 0;
    if (name.size() > 4) {
      if (name[4] != ':') throw ArgumentError("bad device '" + name + "': use cuda or cuda:N");
      try {
        index = std::stoi(name.substr(5));
      } catch (...) {
        throw ArgumentError("bad device '" + name + "': use cuda or cuda:N");
      }
    }
    if (index < 0 || index >= static_cast<int>(torch::cuda::device_count()))
      throw RangeError("device '" + name + "' does not exist: " + std::to_string(torch::cuda::device_count()) +
                       " CUDA device(s) are visible");
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw ArgumentError("unknown device '" + name + "': use cpu, cuda, cuda:N or mps");
}

}  // namespace rdpo
