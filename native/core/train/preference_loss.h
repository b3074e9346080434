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
#include <optional>
#include <string>
#include <vector>

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
  double beta = 0.1;                         // DPO's β; ORPO's λ (odds-ratio weight); SimPO's β (reward scale)
  double gamma = 2.0;                        // rationale weight γ (rdpo, rorpo, rsimpo, rationale-only)
  double label_smoothing = 0;                // ε for sigmoid/robust DPO and SimPO (conservative labels)
  double simpo_margin = 0.5;                 // SimPO's target reward margin γ (TRL CPOConfig.simpo_gamma)
  double sft_weight =
      0;  // extra chosen-NLL term for dpo/rdpo/simpo/rsimpo (TRL DPO "sft" loss weight; CPO's cpo_alpha)
  RationaleForm rationale_form = RationaleForm::Paper;
  RationaleNorm rationale_norm = RationaleNorm::Sum;

  // Each kind's defaults as its authors ran it (LossSpec::defaults, with the kind's default rationale
  // form); a given rationale form brings that form's γ (the authors' log-sigmoid form uses a smaller γ
  // than the paper's linear one, see loss_catalogue()).
  static LossOptions defaults_for(LossKind kind, std::optional<RationaleForm> form = std::nullopt);
};

// The options a loss reads, spelled as the addon, the config and the CLI spell them.
enum class LossParam { Beta, Gamma, LabelSmoothing, SimpoMargin, SftWeight, DpoVariant, RationaleForm, RationaleNorm };
std::string loss_param_name(
    LossParam param);  // "beta" "gamma" "labelSmoothing" "simpoMargin" "sftWeight" "dpoVariant" ...
std::vector<std::string> loss_param_names();  // all of them

// The loss catalogue: the one place that says what each loss is, needs and defaults to. The addon
// exports it (lossCatalogue()), lib/native/loss_catalogue.generated.ts is written from it (and a test
// checks the two agree), and the config, CLI and trainer read that.
struct LossSpec {
  LossKind kind;
  std::string name;               // as the CLI and config spell it
  std::string summary;            // one line: what the loss optimises
  std::string citation;           // where its formula comes from
  bool needs_reference;           // summed reference log-probs of chosen and rejected
  bool needs_rejected;            // a rejected completion per pair
  bool needs_rationale;           // a rationale per pair
  std::vector<LossParam> params;  // the options it reads (others are ignored)
  LossOptions defaults;           // what the authors ran: the default rationale form and its γ
  double gamma_paper;             // γ's default with RationaleForm::Paper (linear −γ·log π(r|…))
  double gamma_logsigmoid;        // γ's default with RationaleForm::LogSigmoid (−log σ(γ·log π(r|…)))
};
const std::vector<LossSpec>& loss_catalogue();  // in the order the CLI lists them
const LossSpec& loss_spec(LossKind kind);
bool loss_reads(LossKind kind, LossParam param);

// Names as the CLI and config spell them: "sft" "dpo" "rdpo" "orpo" "rorpo" "simpo" "rsimpo"
// "rationale-only"; "sigmoid" "ipo" "hinge" "robust"; "paper" "logsigmoid"; "sum" "mean".
// Unknown names are an ArgumentError listing the accepted ones.
LossKind parse_loss_kind(const std::string& name);
DpoVariant parse_dpo_variant(const std::string& name);
RationaleForm parse_rationale_form(const std::string& name);
RationaleNorm parse_rationale_norm(const std::string& name);
std::string loss_kind_name(LossKind kind);
std::vector<std::string> dpo_variant_names();
std::vector<std::string> rationale_form_names();
std::vector<std::string> rationale_norm_names();
std::string dpo_variant_name(DpoVariant variant);
std::string rationale_form_name(RationaleForm form);
std::string rationale_norm_name(RationaleNorm norm);

bool needs_reference(LossKind kind);  // loss_spec(kind).needs_reference
bool needs_rejected(LossKind kind);
bool needs_rationale(LossKind kind);

struct PolicyLogps {
  at::Tensor chosen_sum, chosen_count;
  at::Tensor rejected_sum, rejected_count;    // undefined allowed for sft and rationale-only
  at::Tensor rationale_sum, rationale_count;  // undefined when the loss uses no rationale
};

struct ReferenceLogps {
  at::Tensor chosen_sum, rejected_sum;  // never the rationale (paper: no reference in that term)
};

struct LossOutput {
  at::Tensor loss;                        // scalar, differentiable w.r.t. the policy sums
  at::Tensor rationale_loss;              // the rationale term within `loss`; undefined for losses without one
  std::map<std::string, double> metrics;  // batch means, TRL's names (see preference_loss.cpp)
};

// Throws ArgumentError for a missing input the kind needs (naming it) or an option that does not
// apply to the kind, RangeError for mismatched shapes, counts < 1 or out-of-range options.
LossOutput preference_loss(const LossOptions& options, const PolicyLogps& policy, const ReferenceLogps* reference);

}  // namespace rdpo
