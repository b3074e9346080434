// A batch of token sequences packed without padding. Sequences that share a prefix (the prompt
// of a chosen/rejected pair) form a *group*: the prefix (the trunk, branch 0) is computed once
// and every branch (1, 2, ...) attends to the trunk and to itself only.
//
//   tokens of a group:  [ trunk (prompt) | branch 1 (chosen) | branch 2 (rejected) ]
//   query q may attend key k  iff  k <= q  and  (branch[k] == 0 or branch[k] == branch[q])
//   positions restart per group; each branch continues from the trunk's length.
//
// Scoring is separate from the layout: score_rows[i] is the row of the hidden states that
// predicts score_targets[i], and score_seq[i] says which scored sequence that token belongs to
// (0..num_sequences-1). So the last prompt token's row appears once for the chosen and once
// for the rejected sequence.
#pragma once
#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace rdpo {

struct PackedBatch {
  at::Tensor input_ids;                // [T] int64
  at::Tensor position_ids;             // [T] int64
  at::Tensor branch_ids;               // [T] int32; all zeros for plain causal sequences
  std::vector<int64_t> group_offsets;  // G+1 boundaries into [0, T]

  at::Tensor score_rows;     // [N] int64, rows of the [T, H] hidden states
  at::Tensor score_targets;  // [N] int64, token ids to score
  at::Tensor score_seq;      // [N] int64, sequence index of each scored token
  int64_t num_sequences = 0;

  int64_t num_tokens() const { return input_ids.defined() ? input_ids.size(0) : 0; }
  int64_t num_groups() const { return group_offsets.empty() ? 0 : static_cast<int64_t>(group_offsets.size()) - 1; }
  // Checks shapes, dtypes and ranges; throws ArgumentError/RangeError naming the field.
  void validate(int64_t vocab_size) const;
  PackedBatch to(const c10::Device& device) const;
};

}  // namespace rdpo
