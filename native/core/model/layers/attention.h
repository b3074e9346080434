// The two ways rows attend in this codebase:
//  - PackedAttention: a packed batch, one scaled_dot_product_attention per group. A group with a
//    single branch is plain causal (is_causal); one with several gets the trunk/branch mask
//    "k <= q and (branch[k] == 0 or branch[k] == branch[q])", built once and shared by all layers —
//    or, in the prefix form, the trunk and first branch as one causal sequence and each later
//    branch against the trunk's keys/values (same result, fewer score blocks; see Group).
//  - CachedAttention: left-padded generation with a per-layer key/value cache.
// Both take an AttentionLayout: which layers use the sliding window (Gemma alternates), the
// softmax scale, and the optional tanh soft-capping of the scores (Gemma 2, computed eagerly
// because scaled_dot_product_attention has no such step).
#pragma once
#include <vector>

#include "core/model/causal_lm.h"

namespace rdpo {

// Per-layer attention settings of a model, from its config.
struct AttentionLayout {
  std::vector<bool> windowed;  // per layer: mask keys sliding_window or more positions back
  int64_t window = 0;
  double scale = 0;    // 0 = 1/sqrt(head_dim)
  double softcap = 0;  // 0 = none
  static AttentionLayout of(const ModelConfig& config);
  bool layer_windowed(int64_t layer) const {
    return window > 0 && layer < static_cast<int64_t>(windowed.size()) && windowed[static_cast<size_t>(layer)];
  }
  bool any_windowed() const;
};

class PackedAttention : public AttentionKernel {
 public:
  // `batch` is on the model's device. Windowed layers also mask keys whose position is
  // layout.window or more behind the query's (Mistral, Phi-3, Gemma's sliding layers).
  PackedAttention(const PackedBatch& batch, AttentionLayout layout);
  at::Tensor attend(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) override;

 private:
  struct Branch {
    int64_t begin, length;  // rows of the packed batch
    at::Tensor mask;        // [length, trunk + length] bool: the whole trunk, then causal within the branch
  };
  struct Group {
    int64_t begin, length;
    at::Tensor mask;  // [L, L] bool, undefined when the group is plain causal
    // Prefix form (PerfOptions::prefix_attention), when the group is laid out [trunk | b1 | b2 ...]:
    // trunk + b1 is one plain causal sequence (SDPA's fast causal path, upper blocks skipped), and
    // each later branch attends to the trunk's keys/values and its own through a small mask.
    int64_t prefix_length = 0;  // trunk + first branch; 0 when the prefix form does not apply
    int64_t trunk_length = 0;
    std::vector<Branch> later;
  };
  // `prefix`: plan the prefix form where it applies (not with soft-capping, which needs the full mask).
  static std::vector<Group> build_groups(const PackedBatch& batch, int64_t sliding_window, bool prefix);
  // Switches `g` to the prefix form when its rows are laid out trunk first, then each branch.
  static void plan_prefix(Group& g, const int32_t* branch_ids);
  std::vector<Group> groups_;         // every layer, or the global ones when layers differ
  std::vector<Group> window_groups_;  // the windowed layers when layers differ (Gemma); else empty
  AttentionLayout layout_;
};

class CachedAttention : public AttentionKernel {
 public:
  CachedAttention(int64_t layers, int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t capacity,
                  const at::TensorOptions& options);
  // Before each forward: the rows are `step` new tokens per sequence (b-major), and
  // `mask` [B, 1, step, past + step] says which cached and new keys each new query may see.
  // `window_mask`, when given, replaces `mask` in the layers the layout marks as windowed.
  void begin_step(int64_t step, at::Tensor mask, at::Tensor window_mask = {});
  void set_layout(AttentionLayout layout) { layout_ = std::move(layout); }
  // After each forward: the new keys become part of the past.
  void end_step() { past_ += step_; }
  int64_t past() const { return past_; }
  at::Tensor attend(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) override;

 private:
  std::vector<at::Tensor> keys_, values_;  // [B, kv_heads, capacity, head_dim] per layer
  int64_t batch_, past_ = 0, step_ = 0;
  at::Tensor mask_, window_mask_;
  AttentionLayout layout_;
};

}  // namespace rdpo
