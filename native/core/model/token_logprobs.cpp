#include "core/model/token_logprobs.h"

#include <algorithm>
#include <string>

#include "core/base/errors.h"

namespace rdpo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// Shapes, dtypes, devices and the target range; throws ArgumentError / RangeError naming the argument.
void check_inputs(const at::Tensor& hidden_rows, const at::Tensor& weight, const at::Tensor& targets) {
  if (!hidden_rows.defined() || !weight.defined() || !targets.defined())
    throw ArgumentError("token_logprobs: hidden_rows, weight and targets must all be defined tensors");
  if (hidden_rows.dim() != 2)
    throw RangeError("token_logprobs: hidden_rows must be [N, H], got " + shape_of(hidden_rows));
  if (weight.dim() != 2) throw RangeError("token_logprobs: weight (lm_head) must be [V, H], got " + shape_of(weight));
  if (targets.dim() != 1) throw RangeError("token_logprobs: targets must be [N], got " + shape_of(targets));
  if (weight.size(1) != hidden_rows.size(1))
    throw RangeError("token_logprobs: hidden size differs: hidden_rows " + shape_of(hidden_rows) + " vs weight " +
                     shape_of(weight));
  if (targets.size(0) != hidden_rows.size(0))
    throw RangeError("token_logprobs: targets " + shape_of(targets) + " must have one entry per row of hidden_rows " +
                     shape_of(hidden_rows));
  if (!at::isFloatingType(hidden_rows.scalar_type()) || hidden_rows.scalar_type() != weight.scalar_type())
    throw ArgumentError(std::string("token_logprobs: hidden_rows and weight must share one floating dtype, got ") +
                        c10::toString(hidden_rows.scalar_type()) + " and " + c10::toString(weight.scalar_type()));
  if (targets.scalar_type() != at::kLong)
    throw ArgumentError(std::string("token_logprobs: targets must be int64, got ") +
                        c10::toString(targets.scalar_type()));
  if (hidden_rows.device() != weight.device() || targets.device() != weight.device())
    throw ArgumentError("token_logprobs: hidden_rows, weight and targets must be on one device, got " +
                        hidden_rows.device().str() + ", " + weight.device().str() + ", " + targets.device().str());
  if (targets.numel() > 0) {
    // One host sync; an out-of-range id would be a device-side assert on CUDA, which kills the process.
    auto [lo, hi] = at::aminmax(targets);
    int64_t min_id = lo.item<int64_t>(), max_id = hi.item<int64_t>();
    if (min_id < 0 || max_id >= weight.size(0))
      throw RangeError("token_logprobs: target ids must lie in [0, " + std::to_string(weight.size(0)) +
                       "), got range [" + std::to_string(min_id) + ", " + std::to_string(max_id) + "]");
  }
}

// logits of rows [begin, end) in float32: the matmul runs in the input dtype (bf16 tensor cores
// on GPU), the softmax math that follows in float32.
at::Tensor chunk_logits(const at::Tensor& hidden_rows, const at::Tensor& weight, int64_t begin, int64_t end) {
  return hidden_rows.slice(0, begin, end).matmul(weight.t()).to(at::kFloat);
}

// Final-logit soft-capping (Gemma 2), in place: z <- cap * tanh(z / cap). No-op when cap is 0.
at::Tensor& softcap_(at::Tensor& logits, double cap) {
  if (cap > 0) logits.div_(cap).tanh_().mul_(cap);
  return logits;
}

// Chunked log p(target | row): forward keeps only each row's logsumexp; backward recomputes a
// chunk's logits and forms d logp_i / d logits_i = onehot(t_i) − softmax(logits_i).
struct FusedTokenLogprobs : public torch::autograd::Function<FusedTokenLogprobs> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& hidden_rows, const at::Tensor& weight,
                            const at::Tensor& targets, int64_t chunk_size, double softcap) {
    const int64_t n = hidden_rows.size(0);
    auto f32 = hidden_rows.options().dtype(at::kFloat);
    at::Tensor logps = at::empty({n}, f32);
    at::Tensor lse = at::empty({n}, f32);
    for (int64_t begin = 0; begin < n; begin += chunk_size) {
      const int64_t end = std::min(n, begin + chunk_size);
      at::Tensor logits = chunk_logits(hidden_rows, weight, begin, end);  // [c, V] f32
      softcap_(logits, softcap);
      at::Tensor chunk_lse = at::logsumexp(logits, 1);  // log Σ_v e^{z_v}
      at::Tensor target_logit = logits.gather(1, targets.slice(0, begin, end).unsqueeze(1)).squeeze(1);
      logps.slice(0, begin, end).copy_(target_logit - chunk_lse);  // log p(t) = z_t − lse
      lse.slice(0, begin, end).copy_(chunk_lse);
    }
    ctx->save_for_backward({hidden_rows, weight, targets, lse});
    ctx->saved_data["chunk_size"] = chunk_size;
    ctx->saved_data["softcap"] = softcap;
    return logps;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor& hidden_rows = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& targets = saved[2];
    const at::Tensor& lse = saved[3];
    const int64_t chunk_size = ctx->saved_data["chunk_size"].toInt();
    const double softcap = ctx->saved_data["softcap"].toDouble();
    const at::Tensor grad_logps = grad_outputs[0].to(at::kFloat);  // [N], dL/d logp_i
    const bool want_hidden = ctx->needs_input_grad(0);
    const bool want_weight = ctx->needs_input_grad(1);

    const int64_t n = hidden_rows.size(0);
    at::Tensor grad_hidden = want_hidden ? at::empty_like(hidden_rows) : at::Tensor();
    // Summed over chunks in float32 (a bf16 running sum would lose the small contributions).
    at::Tensor grad_weight_f32 =
        want_weight ? at::zeros(weight.sizes(), weight.options().dtype(at::kFloat)) : at::Tensor();
    for (int64_t begin = 0; begin < n && (want_hidden || want_weight); begin += chunk_size) {
      const int64_t end = std::min(n, begin + chunk_size);
      at::Tensor g = grad_logps.slice(0, begin, end).unsqueeze(1);  // [c, 1]
      // grad_logits = g · (onehot(t) − softmax(z)), built in place over the recomputed logits.
      at::Tensor grad_logits = chunk_logits(hidden_rows, weight, begin, end);  // z, [c, V] f32
      at::Tensor capped_grad;  // d cap·tanh(z/cap) / dz = 1 − tanh², when soft-capped
      if (softcap > 0) {
        softcap_(grad_logits, softcap);
        capped_grad = 1 - (grad_logits / softcap).square();
      }
      grad_logits.sub_(lse.slice(0, begin, end).unsqueeze(1)).exp_().mul_(g).neg_();  // −g · softmax(z)
      grad_logits.scatter_add_(1, targets.slice(0, begin, end).unsqueeze(1), g);      // + g · onehot(t)
      if (capped_grad.defined()) grad_logits.mul_(capped_grad);
      if (want_hidden)  // d/dh = grad_logits · W
        grad_hidden.slice(0, begin, end).copy_(grad_logits.to(weight.scalar_type()).matmul(weight));
      if (want_weight)  // d/dW = grad_logitsᵀ · h, accumulated over chunks
        grad_weight_f32.addmm_(grad_logits.t(), hidden_rows.slice(0, begin, end).to(at::kFloat));
    }
    at::Tensor grad_weight = want_weight ? grad_weight_f32.to(weight.scalar_type()) : at::Tensor();
    return {grad_hidden, grad_weight, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor token_logprobs_unfused(const at::Tensor& hidden_rows, const at::Tensor& weight, const at::Tensor& targets,
                                  double softcap) {
  check_inputs(hidden_rows, weight, targets);
  at::Tensor logits = hidden_rows.matmul(weight.t()).to(at::kFloat);  // [N, V]
  if (softcap > 0) logits = at::tanh(logits / softcap) * softcap;
  return at::log_softmax(logits, 1).gather(1, targets.unsqueeze(1)).squeeze(1);
}

at::Tensor fused_token_logprobs(const at::Tensor& hidden_rows, const at::Tensor& weight, const at::Tensor& targets,
                                int64_t chunk_size, double softcap) {
  check_inputs(hidden_rows, weight, targets);
  if (chunk_size <= 0)
    throw RangeError("fused_token_logprobs: chunk_size must be positive, got " + std::to_string(chunk_size));
  return FusedTokenLogprobs::apply(hidden_rows, weight, targets, chunk_size, softcap);
}

SequenceReduction reduce_by_sequence(const at::Tensor& token_logps, const at::Tensor& score_seq,
                                     int64_t num_sequences) {
  if (!token_logps.defined() || token_logps.dim() != 1)
    throw RangeError("reduce_by_sequence: token_logps must be a [N] tensor");
  if (!score_seq.defined() || score_seq.dim() != 1 || score_seq.size(0) != token_logps.size(0))
    throw RangeError("reduce_by_sequence: score_seq must be [N] like token_logps (" +
                     std::to_string(token_logps.size(0)) + ")");
  if (score_seq.scalar_type() != at::kLong)
    throw ArgumentError(std::string("reduce_by_sequence: score_seq must be int64, got ") +
                        c10::toString(score_seq.scalar_type()));
  if (num_sequences < 0)
    throw RangeError("reduce_by_sequence: num_sequences must be >= 0, got " + std::to_string(num_sequences));
  if (score_seq.numel() > 0) {
    auto [lo, hi] = at::aminmax(score_seq);
    int64_t min_s = lo.item<int64_t>(), max_s = hi.item<int64_t>();
    if (min_s < 0 || max_s >= num_sequences)
      throw RangeError("reduce_by_sequence: score_seq values must lie in [0, " + std::to_string(num_sequences) +
                       "), got range [" + std::to_string(min_s) + ", " + std::to_string(max_s) + "]");
  }
  auto opts = token_logps.options();
  SequenceReduction r;
  r.sum = at::zeros({num_sequences}, opts).index_add(0, score_seq, token_logps);
  r.count = at::zeros({num_sequences}, opts)
                .index_add(0, score_seq, at::ones_like(token_logps, at::MemoryFormat::Contiguous).detach());
  return r;
}

}  // namespace rdpo
