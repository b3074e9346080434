#include "core/model/packed_batch.h"

#include "core/base/errors.h"

namespace rdpo {
namespace {

void expect_1d(const at::Tensor& t, const char* name, int64_t len, c10::ScalarType dtype) {
  if (!t.defined()) throw ArgumentError(std::string("packed batch: '") + name + "' is missing");
  if (t.dim() != 1) throw RangeError(std::string("packed batch: '") + name + "' must be 1-D");
  if (len >= 0 && t.size(0) != len)
    throw RangeError(std::string("packed batch: '") + name + "' has " + std::to_string(t.size(0)) +
                     " entries, expected " + std::to_string(len));
  if (t.scalar_type() != dtype)
    throw ArgumentError(std::string("packed batch: '") + name + "' must be " + c10::toString(dtype) + ", got " +
                        c10::toString(t.scalar_type()));
}

}  // namespace

void PackedBatch::validate(int64_t vocab_size) const {
  expect_1d(input_ids, "input_ids", -1, torch::kInt64);
  const int64_t T = input_ids.size(0);
  expect_1d(position_ids, "position_ids", T, torch::kInt64);
  expect_1d(branch_ids, "branch_ids", T, torch::kInt32);
  if (group_offsets.size() < 2 || group_offsets.front() != 0 || group_offsets.back() != T)
    throw RangeError("packed batch: group_offsets must start at 0 and end at the token count " + std::to_string(T));
  for (size_t i = 1; i < group_offsets.size(); ++i)
    if (group_offsets[i] <= group_offsets[i - 1]) throw RangeError("packed batch: group_offsets must increase");
  if (T > 0) {
    auto mn = input_ids.min().item<int64_t>(), mx = input_ids.max().item<int64_t>();
    if (mn < 0 || mx >= vocab_size)
      throw RangeError("packed batch: token id " + std::to_string(mn < 0 ? mn : mx) +
                       " is outside the vocabulary (size " + std::to_string(vocab_size) + ")");
    if (position_ids.min().item<int64_t>() < 0) throw RangeError("packed batch: negative position id");
  }
  expect_1d(score_rows, "score_rows", -1, torch::kInt64);
  const int64_t N = score_rows.size(0);
  expect_1d(score_targets, "score_targets", N, torch::kInt64);
  expect_1d(score_seq, "score_seq", N, torch::kInt64);
  if (N > 0) {
    if (score_rows.min().item<int64_t>() < 0 || score_rows.max().item<int64_t>() >= T)
      throw RangeError("packed batch: score_rows must index the " + std::to_string(T) + " packed tokens");
    if (score_targets.min().item<int64_t>() < 0 || score_targets.max().item<int64_t>() >= vocab_size)
      throw RangeError("packed batch: score_targets outside the vocabulary");
    if (score_seq.min().item<int64_t>() < 0 || score_seq.max().item<int64_t>() >= num_sequences)
      throw RangeError("packed batch: score_seq must be in 0.." + std::to_string(num_sequences - 1));
  }
}

PackedBatch PackedBatch::to(const c10::Device& device) const {
  PackedBatch b = *this;
  b.input_ids = input_ids.to(device);
  b.position_ids = position_ids.to(device);
  b.branch_ids = branch_ids.to(device);
  b.score_rows = score_rows.to(device);
  b.score_targets = score_targets.to(device);
  b.score_seq = score_seq.to(device);
  return b;
}

}  // namespace rdpo
