#include "core/train/preference_trainer.h"

#include <ATen/record_function.h>

#include <cmath>

#include "core/model/compute_weights.h"
#include "core/distributed/optimizer_shards.h"
#include "core/model/sequence_scoring.h"
#include "core/base/errors.h"
#include "core/model/lora/lora.h"
#include "core/io/safetensors.h"
#include "core/model/token_logprobs.h"

namespace rdpo {
namespace {

void check_batch(const PreferenceBatch& b, int64_t vocab) {
  if (b.num_pairs <= 0) throw RangeError("preference batch has no pairs");
  int64_t expected = b.num_pairs * (b.has_rationale ? 3 : 2);
  if (b.packed.num_sequences != expected)
    throw RangeError("preference batch: " + std::to_string(b.packed.num_sequences) + " scored sequences, expected " +
                     std::to_string(expected) + " for " + std::to_string(b.num_pairs) + " pairs");
  if (b.num_pair_groups <= 0 || b.num_pair_groups > b.packed.num_groups())
    throw RangeError("preference batch: num_pair_groups out of range");
  b.packed.validate(vocab);
}

}  // namespace

PackedBatch leading_groups(const PackedBatch& batch, int64_t num_groups, int64_t num_sequences) {
  if (num_groups == batch.num_groups() && num_sequences == batch.num_sequences) return batch;
  PackedBatch out;
  const int64_t T = batch.group_offsets.at(num_groups);
  out.input_ids = batch.input_ids.slice(0, 0, T);
  out.position_ids = batch.position_ids.slice(0, 0, T);
  out.branch_ids = batch.branch_ids.slice(0, 0, T);
  out.group_offsets.assign(batch.group_offsets.begin(), batch.group_offsets.begin() + num_groups + 1);
  auto keep = batch.score_seq.lt(num_sequences).nonzero().squeeze(1);
  out.score_rows = batch.score_rows.index_select(0, keep);
  out.score_targets = batch.score_targets.index_select(0, keep);
  out.score_seq = batch.score_seq.index_select(0, keep);
  out.num_sequences = num_sequences;
  if (out.score_rows.numel() > 0 && out.score_rows.max().item<int64_t>() >= T)
    throw RangeError("preference batch: a chosen/rejected token is scored outside the pair groups");
  return out;
}

std::pair<at::Tensor, at::Tensor> reference_logps(CausalLM& model, const PreferenceBatch& batch,
                                                  c10::ScalarType compute_dtype, int64_t logits_chunk) {
  RECORD_USER_SCOPE("rdpo::reference");  // named phases for profiles (core/profiler.h); free when off
  check_batch(batch, model.config().vocab_size);
  torch::NoGradGuard no_grad;
  AdaptersDisabled base_model(model);  // with LoRA, the reference is the base model (TRL/PEFT's)
  const int64_t B = batch.num_pairs;
  auto pairs = leading_groups(batch.packed, batch.num_pair_groups, 2 * B).to(model.device());
  auto scored = score_sequences(model, pairs, compute_dtype, logits_chunk);
  auto sums = scored.sum.to(torch::kFloat32).cpu();
  return {sums.slice(0, 0, B).clone(), sums.slice(0, B, 2 * B).clone()};
}

PreferenceTrainer::PreferenceTrainer(CausalLM& policy, TrainerOptions options)
    : policy_(policy), options_(std::move(options)) {
  policy_.set_gradient_checkpointing(options_.gradient_checkpointing);
  if (LoraAdapter* lora = policy_.lora()) {
    // Only the adapter trains (float32 masters); the base stays frozen in its load dtype.
    auto named = lora->named_parameters();
    for (auto& [name, p] : named) params_.push_back(p);
    optimizer_ = std::make_unique<AdamW>(named, options_.adamw);
    hold_gradients_in_one_buffer();
    return;
  }
  if (policy.dtype() != torch::kFloat32)
    throw ArgumentError(
        "the trained model must hold float32 master weights (load it with dtype float32; "
        "bfloat16 compute is the trainer's compute_dtype), or have a LoRA adapter attached");
  auto named = policy_.named_parameters();
  for (auto& [name, p] : named) {
    p.requires_grad_(true);
    params_.push_back(p);
  }
  optimizer_ = std::make_unique<AdamW>(named, options_.adamw);
  if (options_.gradient_checkpointing) hold_gradients_in_one_buffer();
}

// Why: backward otherwise allocates each gradient when it first arrives, between the recomputed
// layers' short-lived activations, and keeps it until the step. On the CPU those long-lived
// chunks pin the freed activation memory around them in glibc's heap, which then grows instead
// of reusing it: LoRA (float32 base, gradient checkpointing, 135M bench model, batch 8) peaked at
// 2.25 GiB RSS against ~1.25 GiB of live tensors (docs/memory_plan.md). One buffer, allocated
// before the first forward (from mmap when large), leaves nothing long-lived in that churn.
// It costs nothing at the peak under LoRA (adapter gradients are small) or checkpointing (the
// peak is the end of backward, when every gradient exists anyway); without checkpointing, full
// fine-tuning keeps allocating gradients in backward, so they do not coexist with all activations.
// Accumulation is then in place (AccumulateGrad adds into a defined .grad), and a parameter that
// got no gradient steps with a zero one, as under data-parallel training (core/distributed.cpp).
// ZeRO-1 holds only this rank's own tensors' gradients there (`hold`: one flag per parameter);
// the others are allocated by backward and dropped once sent (core/distributed/reduce_scatter_sync.h).
void PreferenceTrainer::hold_gradients_in_one_buffer(const std::vector<bool>& hold) {
  if (params_.empty()) return;
  const auto options = params_.front().options();
  int64_t total = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    if (p.scalar_type() != options.dtype().toScalarType() || p.device() != options.device())
      return;  // mixed: keep per-tensor gradients
    if (hold.empty() || hold[i]) total += p.numel();
  }
  torch::NoGradGuard no_grad;
  grad_buffer_ = total > 0 ? torch::zeros({total}, options) : at::Tensor();
  held_.assign(params_.size(), false);
  int64_t offset = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!grad_buffer_.defined() || !(hold.empty() || hold[i])) {
      p.mutable_grad() = at::Tensor();
      continue;
    }
    p.mutable_grad() = grad_buffer_.slice(0, offset, offset + p.numel()).view(p.sizes());
    held_[i] = true;
    offset += p.numel();
  }
}

StepMetrics PreferenceTrainer::accumulate(const PreferenceBatch& input, double scale, bool term_norms) {
  if (!(scale > 0)) throw RangeError("accumulate: scale must be positive");
  RECORD_USER_SCOPE("rdpo::forward_backward");
  torch::AutoGradMode grad_mode(true);
  LoraTraining training(policy_);  // LoRA dropout in training steps only
  return run(input, scale, term_norms);
}

namespace {

// ‖∂term/∂θ‖₂ over the trained parameters, keeping the graph for the real backward. autograd::grad
// returns the gradients instead of accumulating them, so .grad and the data-parallel bucket hooks
// (post-accumulate hooks) are untouched.
double gradient_norm(const at::Tensor& term, const std::vector<at::Tensor>& params) {
  auto grads =
      torch::autograd::grad({term}, params, {}, /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true);
  double sq = 0;
  for (const auto& g : grads)
    if (g.defined()) sq += g.to(torch::kFloat64).pow(2).sum().item<double>();
  return std::sqrt(sq);
}

}  // namespace

StepMetrics PreferenceTrainer::evaluate(const PreferenceBatch& input) {
  RECORD_USER_SCOPE("rdpo::evaluate");
  torch::NoGradGuard no_grad;
  return run(input, 0.0);
}

StepMetrics PreferenceTrainer::run(const PreferenceBatch& input, double scale, bool term_norms) {
  check_batch(input, policy_.config().vocab_size);
  const auto kind = options_.loss.kind;
  if (needs_rationale(kind) && !input.has_rationale)
    throw ArgumentError("loss '" + loss_kind_name(kind) + "' needs rationales, but the batch has none");
  if (needs_reference(kind) && (!input.ref_chosen.defined() || !input.ref_rejected.defined()))
    throw ArgumentError("loss '" + loss_kind_name(kind) + "' needs reference log-probs for the batch");
  const int64_t B = input.num_pairs;
  PackedBatch packed = input.packed.to(policy_.device());
  auto scored = score_sequences(policy_, packed, options_.compute_dtype, options_.logits_chunk);

  PolicyLogps policy;
  policy.chosen_sum = scored.sum.slice(0, 0, B);
  policy.chosen_count = scored.count.slice(0, 0, B);
  if (input.has_rejected) {
    policy.rejected_sum = scored.sum.slice(0, B, 2 * B);
    policy.rejected_count = scored.count.slice(0, B, 2 * B);
  }
  if (input.has_rationale && needs_rationale(kind)) {
    policy.rationale_sum = scored.sum.slice(0, 2 * B, 3 * B);
    policy.rationale_count = scored.count.slice(0, 2 * B, 3 * B);
  }
  ReferenceLogps ref;
  const ReferenceLogps* ref_ptr = nullptr;
  if (needs_reference(kind)) {
    ref.chosen_sum = input.ref_chosen.to(policy.chosen_sum.device(), policy.chosen_sum.scalar_type());
    ref.rejected_sum = input.ref_rejected.to(policy.chosen_sum.device(), policy.chosen_sum.scalar_type());
    ref_ptr = &ref;
  }
  auto out = preference_loss(options_.loss, policy, ref_ptr);
  StepMetrics m;
  // Each term's share of the update, for tuning γ: the loss is preference part + rationale term.
  if (term_norms && scale > 0 && out.rationale_loss.defined()) {
    RECORD_USER_SCOPE("rdpo::term_gradient_norms");
    m.values["grad_norm/rationale"] = gradient_norm(out.rationale_loss, params_);
    m.values["grad_norm/preference"] = gradient_norm(out.loss - out.rationale_loss, params_);
  }
  if (scale > 0) (out.loss * scale).backward();

  m.loss = out.loss.item<double>();
  for (const auto& [k, v] : out.metrics) m.values[k] = v;
  m.values["tokens"] = static_cast<double>(packed.num_tokens());
  return m;
}

int64_t PreferenceTrainer::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.numel();
  return n;
}

int64_t PreferenceTrainer::num_optimizer_parameters() const {
  int64_t n = 0;
  for (const auto& [name, t] : optimizer_->state())
    if (name.size() > 8 && name.compare(name.size() - 8, 8, ".exp_avg") == 0) n += t.numel();
  return n;
}

void PreferenceTrainer::save_optimizer_state(const std::string& file) const {
  if (shards_) {
    auto full = shards_->gather_state(optimizer_->state());
    if (shards_->rank() == 0) write_safetensors(file, full, torch::kFloat32);
    return;
  }
  write_safetensors(file, optimizer_->state(), torch::kFloat32);
}

const OptimizerShards& PreferenceTrainer::shard_optimizer(std::shared_ptr<ProcessGroup> group, int64_t gather_bytes) {
  std::vector<std::pair<std::string, at::Tensor>> named;
  // The trained parameters by name: the adapter's under LoRA, else the model's.
  for (auto& [name, p] : policy_.lora() ? policy_.lora()->named_parameters() : policy_.named_parameters())
    for (const auto& q : params_)
      if (q.unsafeGetTensorImpl() == p.unsafeGetTensorImpl()) {
        named.emplace_back(name, p);
        break;
      }
  shards_ = std::make_shared<OptimizerShards>(std::move(group), std::move(named), gather_bytes);
  optimizer_ = std::make_unique<AdamW>(shards_->owned(), options_.adamw);
  if (grad_buffer_.defined()) {
    std::vector<bool> own(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) own[i] = shards_->owner_of(params_[i]) == shards_->rank();
    hold_gradients_in_one_buffer(own);
  }
  return *shards_;
}

void PreferenceTrainer::load_optimizer_state(const std::string& file) {
  auto state = read_safetensors(file);
  std::map<std::string, at::Tensor> m(state.begin(), state.end());
  optimizer_->load_state(m);
}

void PreferenceTrainer::prepare_last_micro_batch() {
  if (grad_sync_) grad_sync_->arm();
}

OptimizerStep PreferenceTrainer::step(double lr, double max_grad_norm) {
  RECORD_USER_SCOPE("rdpo::optimizer_step");
  policy_.drop_compute_weights();  // stale once the masters move; frees them during the update
  OptimizerStep out;
  if (grad_sync_) out.gradient_sync = grad_sync_->reduce();
  // ZeRO-1: each rank holds its own tensors' gradients; the norm is reduced over the ranks.
  const double norm =
      shards_ ? shards_->clip_grad_norm(params_, max_grad_norm) : clip_grad_norm(params_, max_grad_norm);
  out.grad_norm = norm;
  // A NaN/inf gradient would poison every weight and both Adam moments for good: skip the update
  // (the caller sees the non-finite norm and stops or moves on; see lib/train/trainer.ts).
  if (std::isfinite(norm)) {
    optimizer_->step(lr);
    if (shards_) {
      const int64_t sent = shards_->all_gather_updates();
      if (out.gradient_sync) out.gradient_sync->parameter_bytes_sent = sent;
    }
  }
  if (grad_buffer_.defined()) {
    grad_buffer_.zero_();
    for (size_t i = 0; i < params_.size(); ++i)
      if (!held_[i]) params_[i].mutable_grad() = at::Tensor();
  } else {
    for (auto& p : params_) p.mutable_grad() = at::Tensor();
  }
  return out;
}

}  // namespace rdpo
