// Every training objective as a function of per-sequence log-probabilities (never of the model):
// the trainer reduces token log-probs with reduce_by_sequence and calls preference_loss once per
// batch. Formulas follow the RDPO paper (arXiv 2407.14477) and TRL (DPOTrainer, ORPOTrainer,
// CPOTrainer); each line in preference_loss.cpp names its source.
//
// Conventions
//  - Inputs are [B] tensors, one entry per preference pair: `*_sum` is Σ log π over the
//    completion's tokens, `*_count` its number of tokens (float or int; each must be >= 1).
//  - Per-pair losses are reduced with a plain mean over the B pairs. The NLL terms (sft, ORPO's
//    NLL, sft_weight) are token means over the batch: −Σ_b sum_b / Σ_b count_b, as TRL's and the
//    authors' CrossEntropyLoss over flattened tokens.
//  - Computation runs in float64 when the policy sums are float64, else in float32.
//  - The rationale log-prob is the policy's only: no reference model term for it (paper eq. 2).
#pragma once
#include <map>
#include <string>

#include <torch/torch.h>

namespace rdpo {

enum class LossKind { Sft, Dpo, Rdpo, Orpo, Rorpo, Simpo, Rsimpo, RationaleOnly };
// How DPO's margin Δ becomes a loss (TRL DPOConfig.loss_type of the same names).
enum class DpoVariant { Sigmoid, Ipo, Hinge, Robust };
// Paper: −γ·log π(r|…) (eq. 2). LogSigmoid: −log σ(γ·log π(r|…)) (the authors' code).
enum class RationaleForm { Paper, LogSigmoid };
// Whether log π(r|…) in the rationale term is the token sum or the per-token mean.
enum class RationaleNorm { Sum, Mean };

struct LossOptions {
  LossKind kind = LossKind::Dpo;
  DpoVariant variant = DpoVariant::Sigmoid;  // dpo and rdpo only
  double beta = 0.1;            // DPO's β; ORPO's λ (odds-ratio weight); SimPO's β (reward scale)
  double gamma = 2.0;           // rationale weight γ (rdpo, rorpo, rsimpo, rationale-only)
  double label_smoothing = 0;   // ε for sigmoid/robust DPO and SimPO (conservative labels)
  double simpo_margin = 0.5;    // SimPO's target reward margin γ (TRL CPOConfig.simpo_gamma)
  double sft_weight = 0;        // extra chosen-NLL term for dpo/rdpo/simpo/rsimpo (TRL DPO "sft" loss weight; CPO's cpo_alpha)
  RationaleForm rationale_form = RationaleForm::Paper;
  RationaleNorm rationale_norm = RationaleNorm::Sum;

  // Each kind's published defaults: dpo/rdpo β 0.1, γ 2 (paper); orpo/rorpo β 0.1, γ 10,
  // rationale mean (authors' RORPO); simpo/rsimpo β 2.0, margin 0.5 (SimPO paper's β; TRL's
  // simpo_gamma default — TRL's own CPOConfig.beta default is 0.1, too small for SimPO).
  static LossOptions defaults_for(LossKind kind);
};

// Names as the CLI and config spell them: "sft" "dpo" "rdpo" "orpo" "rorpo" "simpo" "rsimpo"
// "rationale-only"; "sigmoid" "ipo" "hinge" "robust"; "paper" "logsigmoid"; "sum" "mean".
// Unknown names are an ArgumentError listing the accepted ones.
LossKind parse_loss_kind(const std::string& name);
DpoVariant parse_dpo_variant(const std::string& name);
RationaleForm parse_rationale_form(const std::string& name);
RationaleNorm parse_rationale_norm(const std::string& name);
std::string loss_kind_name(LossKind kind);

bool needs_reference(LossKind kind);  // dpo, rdpo
bool needs_rejected(LossKind kind);   // all but sft and rationale-only
bool needs_rationale(LossKind kind);  // rdpo, rorpo, rsimpo, rationale-only

struct PolicyLogps {
  at::Tensor chosen_sum, chosen_count;
  at::Tensor rejected_sum, rejected_count;      // undefined allowed for sft and rationale-only
  at::Tensor rationale_sum, rationale_count;    // undefined when the loss uses no rationale
};

struct ReferenceLogps {
  at::Tensor chosen_sum, rejected_sum;  // never the rationale (paper: no reference in that term)
};

struct LossOutput {
  at::Tensor loss;                         // scalar, differentiable w.r.t. the policy sums
  std::map<std::string, double> metrics;   // batch means, TRL's names (see preference_loss.cpp)
};

// Throws ArgumentError for a missing input the kind needs (naming it) or an option that does not
// apply to the kind, RangeError for mismatched shapes, counts < 1 or out-of-range options.
LossOutput preference_loss(const LossOptions& options, const PolicyLogps& policy, const ReferenceLogps* reference);

}  // namespace rdpo
