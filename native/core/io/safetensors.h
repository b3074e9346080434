// The safetensors format (Hugging Face): 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the raw little-endian tensor bytes; offsets are relative to the end of the header.
//
// Reading memory-maps the file copy-on-write: tensors are views over the mapping (no copy) and
// keep it alive; writing into one (an optimiser step) copies only the touched pages privately.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace rdpo {

// Name -> CPU tensor in the file's own dtype (F32, F16, BF16, I64, I32).
using TensorMap = std::map<std::string, at::Tensor>;

// One .safetensors file. Errors (bad header, truncated file, range outside the file) name the
// file and the tensor.
TensorMap read_safetensors(const std::string& path);

// A model directory: model.safetensors, or the shards listed in model.safetensors.index.json.
TensorMap read_safetensors_dir(const std::string& dir);

// Writes the tensors converted to `dtype` (in the given order) with metadata {"format":"pt"},
// atomically: a temporary file in the same directory, fsync, then rename over `path`.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       c10::ScalarType dtype);

// Writes text atomically the same way (for config.json next to the weights).
void write_file_atomic(const std::string& path, const std::string& contents);

}  // namespace rdpo
