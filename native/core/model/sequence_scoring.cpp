#include "core/model/sequence_scoring.h"

#include <ATen/autocast_mode.h>

#include "core/model/compute_weights.h"

namespace rdpo {
namespace {

// Autocast for bf16/fp16 compute on the model's device type; a no-op for float32.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, c10::ScalarType dtype) : device_(device) {
    if (dtype == torch::kFloat32) return;
    prev_enabled_ = at::autocast::is_autocast_enabled(device);
    prev_dtype_ = at::autocast::get_autocast_dtype(device);
    at::autocast::set_autocast_enabled(device, true);
    at::autocast::set_autocast_dtype(device, dtype);
    at::autocast::increment_nesting();
    active_ = true;
  }
  ~AutocastScope() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(device_, prev_enabled_);
    at::autocast::set_autocast_dtype(device_, prev_dtype_);
  }

 private:
  c10::DeviceType device_;
  bool active_ = false;
  bool prev_enabled_ = false;
  c10::ScalarType prev_dtype_ = torch::kFloat32;
};

}  // namespace

SequenceReduction score_sequences(CausalLM& model, const PackedBatch& batch, c10::ScalarType compute_dtype,
                                  int64_t logits_chunk) {
  at::Tensor hidden;
  {
    AutocastScope autocast(model.device().type(), compute_dtype);
    ComputeWeightsScope weights(model);  // cast-once 16-bit weights (core/compute_weights.h)
    hidden = model.hidden_states(batch);
  }
  auto rows = hidden.index_select(0, batch.score_rows);
  at::Tensor weight = compute_weight(model, model.lm_head_weight(), rows.scalar_type());
  auto token_logps =
      fused_token_logprobs(rows, weight, batch.score_targets, logits_chunk, model.config().final_softcap);
  return reduce_by_sequence(token_logps, batch.score_seq, batch.num_sequences);
}

SequenceLogprobs sequence_logprobs(CausalLM& model, const PackedBatch& batch, c10::ScalarType compute_dtype,
                                   int64_t logits_chunk) {
  auto scored = score_sequences(model, batch.to(model.device()), compute_dtype, logits_chunk);
  SequenceLogprobs out;
  out.sum = scored.sum.to(torch::kFloat32);
  out.count = scored.count.to(torch::kInt64);
  return out;
}

}  // namespace rdpo
