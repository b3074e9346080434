#include "core/train/preference_loss.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "core/base/errors.h"

namespace rdpo {

namespace F = torch::nn::functional;

// ---- the catalogue -----------------------------------------------------------------------

namespace {

using P = LossParam;

LossOptions with(LossKind kind, double beta, RationaleForm form, double gamma, RationaleNorm norm,
                 double simpo_margin) {
  LossOptions o;
  o.kind = kind;
  o.beta = beta;
  o.rationale_form = form;
  o.gamma = gamma;
  o.rationale_norm = norm;
  o.simpo_margin = simpo_margin;
  return o;
}

// Each loss's defaults are what its authors ran; docs/presets.md lists them with their sources. The
// RDPO authors' code is reds-lab/preference-learning-with-rationales @16111a1:
//  - RDPO: trainers.py:819 `-logsigmoid(beta*logits) - logsigmoid(gamma*policy_rationale_logps)`, the
//    rationale log-prob summed (get_batch_logps(..., average_log_prob=False), trainers.py:644), with
//    config/loss/rdpo.yaml:5,8 `beta: 0.1`, `gamma: 0.1`. For a summed log-prob s << 0 the gradient of
//    −log σ(γs) is ≈ −γ·∇s: about 0.1 × the summed rationale NLL. The paper prints the linear form
//    −γ·log π(r|…) (eq. 2) with γ = 2, twenty times that weight; it stays as RationaleForm::Paper.
//  - RORPO: the README's command runs `rorpo-simple` (SimpleRORPOTrainer, trainers.py:1122
//    `beta*ratio + gamma*policy_rationale_logps` on per-token mean log-probs, trainers.py:996), i.e. the
//    linear form, with config/loss/rorpo-simple.yaml:5,8 `beta: 0.1`, `gamma: 1.0`. (RORPOTrainer,
//    trainers.py:1098, is the log-sigmoid form; no config of the repository runs it.) The paper's γ is 10.
//  - RSimPO has results only in the paper, no code: the linear form with the paper's RDPO γ.
// SimPO β 2.0 (SimPO paper) with TRL's simpo_gamma 0.5 as the margin (TRL's own CPOConfig.beta
// default, 0.1, is too small for SimPO).
std::vector<LossSpec> make_catalogue() {
  const auto sum = RationaleNorm::Sum, mean = RationaleNorm::Mean;
  const auto linear = RationaleForm::Paper, logsig = RationaleForm::LogSigmoid;
  const std::vector<P> rationale = {P::Gamma, P::RationaleForm, P::RationaleNorm};
  auto plus = [](std::vector<P> a, const std::vector<P>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const std::vector<P> dpo = {P::Beta, P::DpoVariant, P::LabelSmoothing, P::SftWeight};
  const std::vector<P> orpo = {P::Beta};
  const std::vector<P> simpo = {P::Beta, P::SimpoMargin, P::LabelSmoothing, P::SftWeight};
  // Fields: kind, name, summary, citation, needs reference/rejected/rationale, params, defaults (with
  // the default rationale form and its γ), γ of the linear (paper) form, γ of the log-sigmoid form.
  return {
      {LossKind::Sft,
       "sft",
       "supervised fine-tuning on the chosen completion (token-mean NLL)",
       "TRL DPOTrainer loss_type \"sft\"; the RDPO authors' SFT stage (chosen_nll_loss)",
       false,
       false,
       false,
       {},
       with(LossKind::Sft, 0.1, linear, 2.0, sum, 0.5),
       2.0,
       0.1},
      {LossKind::Dpo, "dpo", "direct preference optimisation against a frozen reference model",
       "Rafailov et al. 2023, arXiv 2305.18290 eq. 7; variants as TRL DPOConfig.loss_type (ipo, hinge, robust)", true,
       true, false, dpo, with(LossKind::Dpo, 0.1, linear, 2.0, sum, 0.5), 2.0, 0.1},
      {LossKind::Rdpo, "rdpo",
       "DPO plus the rationale term −log σ(γ·Σ log π(r|x, y_w, y_l)) (the authors' released form)",
       "Just et al. 2024, arXiv 2407.14477; released code trainers.py:819, config/loss/rdpo.yaml:8 (γ 0.1); "
       "paper eq. 2 prints −γ·log π(r|…) with γ 2 (--rationale-form paper)",
       true, true, true, plus(dpo, rationale), with(LossKind::Rdpo, 0.1, logsig, 0.1, sum, 0.5), 2.0, 0.1},
      {LossKind::Orpo, "orpo", "odds-ratio preference optimisation (NLL − λ·log σ(log odds ratio)), no reference",
       "Hong et al. 2024, arXiv 2403.07691 eq. 6; TRL ORPOTrainer", false, true, false, orpo,
       with(LossKind::Orpo, 0.1, linear, 10.0, mean, 0.5), 10.0, 1.0},
      {LossKind::Rorpo, "rorpo", "ORPO plus the linear rationale term −γ·ℓ̄(r|…) on the per-token mean log-prob",
       "Just et al. 2024, arXiv 2407.14477 (RORPO); released code rorpo-simple: trainers.py:1122 (SimpleRORPOTrainer), "
       "config/loss/rorpo-simple.yaml:8 (γ 1.0); the paper's γ is 10",
       false, true, true, plus(orpo, rationale), with(LossKind::Rorpo, 0.1, linear, 1.0, mean, 0.5), 1.0, 1.0},
      {LossKind::Simpo, "simpo", "SimPO: length-normalised reward margin, no reference",
       "Meng et al. 2024, arXiv 2405.14734 eq. 6; TRL CPOTrainer loss_type \"simpo\"", false, true, false, simpo,
       with(LossKind::Simpo, 2.0, linear, 2.0, sum, 0.5), 2.0, 2.0},
      {LossKind::Rsimpo, "rsimpo", "SimPO plus the rationale term (the natural form; not confirmed by the authors)",
       "Meng et al. 2024 eq. 6 with Just et al. 2024 eq. 2's rationale term", false, true, true, plus(simpo, rationale),
       with(LossKind::Rsimpo, 2.0, linear, 2.0, sum, 0.5), 2.0, 2.0},
      {LossKind::RationaleOnly, "rationale-only", "the rationale term alone (an ablation; no rejected completion)",
       "Just et al. 2024, arXiv 2407.14477, RDPO's rationale term alone (released form, trainers.py:819)", false, false,
       true, rationale, with(LossKind::RationaleOnly, 0.1, logsig, 0.1, sum, 0.5), 2.0, 0.1},
  };
}

const std::vector<std::pair<std::string, DpoVariant>> kVariants = {{"sigmoid", DpoVariant::Sigmoid},
                                                                   {"ipo", DpoVariant::Ipo},
                                                                   {"hinge", DpoVariant::Hinge},
                                                                   {"robust", DpoVariant::Robust}};
const std::vector<std::pair<std::string, RationaleForm>> kForms = {{"paper", RationaleForm::Paper},
                                                                   {"logsigmoid", RationaleForm::LogSigmoid}};
const std::vector<std::pair<std::string, RationaleNorm>> kNorms = {{"sum", RationaleNorm::Sum},
                                                                   {"mean", RationaleNorm::Mean}};
const std::vector<std::pair<std::string, LossParam>> kParams = {{"beta", P::Beta},
                                                                {"gamma", P::Gamma},
                                                                {"labelSmoothing", P::LabelSmoothing},
                                                                {"simpoMargin", P::SimpoMargin},
                                                                {"sftWeight", P::SftWeight},
                                                                {"dpoVariant", P::DpoVariant},
                                                                {"rationaleForm", P::RationaleForm},
                                                                {"rationaleNorm", P::RationaleNorm}};

template <typename E>
E parse_name(const std::vector<std::pair<std::string, E>>& table, const std::string& name, const char* what) {
  std::string accepted;
  for (const auto& [n, e] : table) {
    if (n == name) return e;
    accepted += (accepted.empty() ? "" : ", ") + n;
  }
  throw ArgumentError(std::string("unknown ") + what + " \"" + name + "\"; expected one of: " + accepted);
}

template <typename E>
std::string name_of(const std::vector<std::pair<std::string, E>>& table, E value) {
  for (const auto& [n, e] : table)
    if (e == value) return n;
  return "?";
}

template <typename E>
std::vector<std::string> names_of(const std::vector<std::pair<std::string, E>>& table) {
  std::vector<std::string> out;
  for (const auto& [n, _] : table) out.push_back(n);
  return out;
}

}  // namespace

const std::vector<LossSpec>& loss_catalogue() {
  static const std::vector<LossSpec> catalogue = make_catalogue();
  return catalogue;
}

const LossSpec& loss_spec(LossKind kind) {
  for (const auto& s : loss_catalogue())
    if (s.kind == kind) return s;
  throw ArgumentError("internal: loss kind " + std::to_string(static_cast<int>(kind)) + " is not in the catalogue");
}

bool loss_reads(LossKind kind, LossParam param) {
  const auto& p = loss_spec(kind).params;
  return std::find(p.begin(), p.end(), param) != p.end();
}

std::string loss_param_name(LossParam param) { return name_of(kParams, param); }
std::vector<std::string> loss_param_names() { return names_of(kParams); }

LossKind parse_loss_kind(const std::string& name) {
  std::vector<std::pair<std::string, LossKind>> table;
  for (const auto& s : loss_catalogue()) table.emplace_back(s.name, s.kind);
  return parse_name(table, name, "loss");
}
DpoVariant parse_dpo_variant(const std::string& name) { return parse_name(kVariants, name, "DPO variant"); }
RationaleForm parse_rationale_form(const std::string& name) { return parse_name(kForms, name, "rationale form"); }
RationaleNorm parse_rationale_norm(const std::string& name) { return parse_name(kNorms, name, "rationale norm"); }

std::string loss_kind_name(LossKind kind) { return loss_spec(kind).name; }
std::string dpo_variant_name(DpoVariant v) { return name_of(kVariants, v); }
std::string rationale_form_name(RationaleForm f) { return name_of(kForms, f); }
std::string rationale_norm_name(RationaleNorm n) { return name_of(kNorms, n); }
std::vector<std::string> dpo_variant_names() { return names_of(kVariants); }
std::vector<std::string> rationale_form_names() { return names_of(kForms); }
std::vector<std::string> rationale_norm_names() { return names_of(kNorms); }

bool needs_reference(LossKind kind) { return loss_spec(kind).needs_reference; }
bool needs_rejected(LossKind kind) { return loss_spec(kind).needs_rejected; }
bool needs_rationale(LossKind kind) { return loss_spec(kind).needs_rationale; }

LossOptions LossOptions::defaults_for(LossKind kind, std::optional<RationaleForm> form) {
  const LossSpec& spec = loss_spec(kind);
  LossOptions o = spec.defaults;
  if (form.has_value()) {
    o.rationale_form = *form;
    o.gamma = *form == RationaleForm::LogSigmoid ? spec.gamma_logsigmoid : spec.gamma_paper;
  }
  return o;
}

// ---- validation --------------------------------------------------------------------------

namespace {

bool is_dpo(LossKind k) { return k == LossKind::Dpo || k == LossKind::Rdpo; }
bool is_orpo(LossKind k) { return k == LossKind::Orpo || k == LossKind::Rorpo; }
bool is_simpo(LossKind k) { return k == LossKind::Simpo || k == LossKind::Rsimpo; }

void check_options(const LossOptions& o) {
  const std::string kind = loss_kind_name(o.kind);
  if (loss_reads(o.kind, LossParam::Beta) && !(std::isfinite(o.beta) && o.beta > 0))
    throw RangeError(kind + " loss: beta must be a positive number, got " + std::to_string(o.beta));
  if (needs_rationale(o.kind) && !(std::isfinite(o.gamma) && o.gamma >= 0))
    throw RangeError(kind + " loss: gamma (rationale weight) must be >= 0, got " + std::to_string(o.gamma));
  if (!std::isfinite(o.simpo_margin)) throw RangeError(kind + " loss: simpo_margin must be finite");
  if (!(std::isfinite(o.sft_weight) && o.sft_weight >= 0))
    throw RangeError(kind + " loss: sft_weight must be >= 0, got " + std::to_string(o.sft_weight));
  if (o.sft_weight != 0 && !loss_reads(o.kind, LossParam::SftWeight))
    throw ArgumentError(kind +
                        " loss: sft_weight applies to dpo, rdpo, simpo and rsimpo only (sft and orpo already "
                        "train on the chosen NLL); leave it at 0");
  const double eps = o.label_smoothing;
  if (eps != 0) {
    bool smoothable = loss_reads(o.kind, LossParam::LabelSmoothing) &&
                      (!is_dpo(o.kind) || o.variant == DpoVariant::Sigmoid || o.variant == DpoVariant::Robust);
    if (!smoothable)
      throw ArgumentError(
          kind +
          " loss: label_smoothing applies to the sigmoid and robust DPO variants and to simpo only; leave it at 0");
    bool robust = is_dpo(o.kind) && o.variant == DpoVariant::Robust;
    if (!(eps > 0 && (robust ? eps < 0.5 : eps <= 0.5)))
      throw RangeError(kind + " loss: label_smoothing must lie in [0, 0.5" + (robust ? ")" : "]") + ", got " +
                       std::to_string(eps));
  }
}

// A [B] floating tensor; `name` is how the caller spells the field.
void check_vector(const at::Tensor& t, const char* name, int64_t batch, const std::string& kind, bool must_be_float) {
  if (!t.defined()) throw ArgumentError(kind + " loss needs " + name + " (it is missing)");
  if (t.dim() != 1 || t.size(0) != batch)
    throw RangeError(kind + " loss: " + name + " must be [" + std::to_string(batch) + "] like chosen_sum, got " +
                     std::to_string(t.dim()) + "-d with " + std::to_string(t.numel()) + " elements");
  if (must_be_float && !at::isFloatingType(t.scalar_type()))
    throw ArgumentError(kind + " loss: " + name + " must be a floating tensor, got " + c10::toString(t.scalar_type()));
}

void check_counts(const std::vector<std::pair<const at::Tensor*, const char*>>& counts, const std::string& kind) {
  for (const auto& [t, name] : counts) {
    // Host sync: a zero count would make a mean log-prob infinite without saying why.
    if (t->numel() > 0 && t->min().item<double>() < 1)
      throw RangeError(kind + " loss: every " + name + " must be >= 1 (an empty completion has no log-prob)");
  }
}

// ---- formula pieces ----------------------------------------------------------------------

// log(1 − e^x) for x < 0, stable at both ends (Mächler 2012; TRL orpo_trainer.log1mexp).
// Each branch sees only its own half of the range, so neither produces an inf/NaN gradient.
at::Tensor log1mexp(const at::Tensor& x) {
  const double t = -std::log(2.0);
  at::Tensor small = at::log1p(-at::exp(at::clamp_max(x, t)));
  at::Tensor near_zero = at::log(-at::expm1(at::clamp_min(x, t)));
  return at::where(x < t, small, near_zero);
}

// −Σ_b sum_b / Σ_b count_b: token-mean NLL over the batch (TRL CPO/ORPO CrossEntropyLoss over
// flattened completion tokens; TRL DPO loss_type "sft"; the authors' chosen_nll_loss).
at::Tensor token_mean_nll(const at::Tensor& sum, const at::Tensor& count) { return -sum.sum() / count.sum(); }

// Label-smoothed logistic loss −(1−ε)·log σ(z) − ε·log σ(−z) (cDPO, Mitchell 2023; TRL CPO "sigmoid"/"simpo").
at::Tensor smoothed_logistic(const at::Tensor& z, double eps) {
  at::Tensor loss = -F::logsigmoid(z);
  if (eps != 0) loss = (1 - eps) * loss - eps * F::logsigmoid(-z);
  return loss;
}

// The per-pair rationale term: paper −γ·log π(r|…) (eq. 2) or −log σ(γ·log π(r|…)) (authors' RDPO/RORPO code).
at::Tensor rationale_term(const LossOptions& o, const at::Tensor& r_sum, const at::Tensor& r_count) {
  at::Tensor logp = o.rationale_norm == RationaleNorm::Sum ? r_sum : r_sum / r_count;
  return o.rationale_form == RationaleForm::Paper ? -o.gamma * logp : -F::logsigmoid(o.gamma * logp);
}

struct Metrics {
  std::vector<std::pair<std::string, at::Tensor>> items;
  void add(std::string name, const at::Tensor& value) { items.emplace_back(std::move(name), value.detach()); }
  // One host transfer for all metrics (each .item() would be a device sync).
  std::map<std::string, double> to_map() const {
    std::vector<at::Tensor> values;
    for (const auto& [_, v] : items) values.push_back(v.to(at::kDouble).reshape({}));
    at::Tensor host = at::stack(values).cpu().contiguous();
    std::map<std::string, double> out;
    const double* p = host.data_ptr<double>();
    for (size_t i = 0; i < items.size(); ++i) out[items[i].first] = p[i];
    return out;
  }
};

// Reward metrics as TRL logs them: rewards/chosen, rewards/rejected, rewards/accuracies
// (chosen reward > rejected, as a fraction), rewards/margins — all means over the batch.
void add_reward_metrics(Metrics& m, const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards) {
  m.add("rewards/chosen", chosen_rewards.mean());
  m.add("rewards/rejected", rejected_rewards.mean());
  m.add("rewards/accuracies", (chosen_rewards > rejected_rewards).to(chosen_rewards.scalar_type()).mean());
  m.add("rewards/margins", (chosen_rewards - rejected_rewards).mean());
}

}  // namespace

// ---- the losses --------------------------------------------------------------------------

LossOutput preference_loss(const LossOptions& o, const PolicyLogps& policy, const ReferenceLogps* reference) {
  const std::string kind = loss_kind_name(o.kind);
  check_options(o);
  if (!policy.chosen_sum.defined()) throw ArgumentError(kind + " loss needs chosen_sum (it is missing)");
  const int64_t batch = policy.chosen_sum.dim() == 1 ? policy.chosen_sum.size(0) : -1;
  if (batch < 1) throw RangeError(kind + " loss: chosen_sum must be a non-empty [B] tensor");

  const bool ipo = is_dpo(o.kind) && o.variant == DpoVariant::Ipo;
  const bool uses_rejected = needs_rejected(o.kind);
  const bool uses_rationale = needs_rationale(o.kind);
  const bool has_rationale = policy.rationale_sum.defined();
  const bool has_rejected = policy.rejected_sum.defined();
  // Which counts the formulas read (they are validated; the others may be absent).
  const bool chosen_count_used =
      o.kind == LossKind::Sft || is_orpo(o.kind) || is_simpo(o.kind) || ipo || o.sft_weight != 0;
  const bool rejected_count_used = is_orpo(o.kind) || is_simpo(o.kind) || ipo;

  check_vector(policy.chosen_sum, "chosen_sum", batch, kind, true);
  std::vector<std::pair<const at::Tensor*, const char*>> counts;
  if (chosen_count_used || policy.chosen_count.defined()) {
    check_vector(policy.chosen_count, "chosen_count", batch, kind, false);
    counts.emplace_back(&policy.chosen_count, "chosen_count");
  }
  if (uses_rejected || has_rejected) check_vector(policy.rejected_sum, "rejected_sum", batch, kind, true);
  if (rejected_count_used) {
    check_vector(policy.rejected_count, "rejected_count", batch, kind, false);
    counts.emplace_back(&policy.rejected_count, "rejected_count");
  }
  if (uses_rationale || has_rationale) {
    check_vector(policy.rationale_sum, "rationale_sum", batch, kind, true);
    check_vector(policy.rationale_count, "rationale_count", batch, kind, false);
    counts.emplace_back(&policy.rationale_count, "rationale_count");
  }
  // rationale-only reports DPO's reward metrics too when given a reference and the rejected sums.
  const bool dpo_metrics = is_dpo(o.kind) || (o.kind == LossKind::RationaleOnly && reference && has_rejected);
  if (dpo_metrics) {
    if (!reference)
      throw ArgumentError(kind + " loss needs reference log-probs (chosen_sum, rejected_sum of the reference model)");
    check_vector(reference->chosen_sum, "reference chosen_sum", batch, kind, true);
    check_vector(reference->rejected_sum, "reference rejected_sum", batch, kind, true);
  }
  check_counts(counts, kind);

  // float64 stays float64 (fixtures, checks); anything else computes in float32.
  const auto dtype = policy.chosen_sum.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  auto as = [&](const at::Tensor& t) { return t.defined() ? t.to(dtype) : t; };  // differentiable cast
  const at::Tensor cw = as(policy.chosen_sum), nw = as(policy.chosen_count);
  const at::Tensor cl = as(policy.rejected_sum), nl = as(policy.rejected_count);
  const at::Tensor rs = as(policy.rationale_sum), rn = as(policy.rationale_count);

  Metrics m;
  at::Tensor loss = at::zeros({}, cw.options());
  at::Tensor rationale_loss;  // the rationale term's share of `loss`, for the term gradient norms

  if (o.kind == LossKind::Sft) {
    loss = token_mean_nll(cw, nw);  // SFT on the chosen completion (TRL DPO loss_type "sft")
    m.add("logps/chosen", cw.mean());
    m.add("nll_loss", loss);
  }

  if (dpo_metrics) {
    const at::Tensor ref_w = as(reference->chosen_sum).detach(), ref_l = as(reference->rejected_sum).detach();
    const at::Tensor chosen_logratio = cw - ref_w, rejected_logratio = cl - ref_l;
    if (is_dpo(o.kind)) {
      const at::Tensor delta = chosen_logratio - rejected_logratio;  // Δ, DPO eq. 7; TRL delta_score
      const double b = o.beta, eps = o.label_smoothing;
      at::Tensor per_pair;
      switch (o.variant) {
        case DpoVariant::Sigmoid:  // −(1−ε)·log σ(βΔ) − ε·log σ(−βΔ) (DPO eq. 7; cDPO smoothing)
          per_pair = smoothed_logistic(b * delta, eps);
          break;
        case DpoVariant::Ipo: {  // (Δ̄ − 1/(2β))², IPO eq. 17 on per-token mean log-ratios (TRL DPO "ipo")
          const at::Tensor mean_delta = chosen_logratio / nw - rejected_logratio / nl;
          per_pair = (mean_delta - 1 / (2 * b)).pow(2);
          break;
        }
        case DpoVariant::Hinge:  // relu(1 − βΔ) (RSO, Liu et al. 2023; TRL DPO "hinge")
          per_pair = at::relu(1 - b * delta);
          break;
        case DpoVariant::Robust:  // [−(1−ε)·log σ(βΔ) + ε·log σ(−βΔ)] / (1−2ε) (rDPO, Chowdhury et al. 2024; TRL DPO
                                  // "robust")
          per_pair = (-(1 - eps) * F::logsigmoid(b * delta) + eps * F::logsigmoid(-b * delta)) / (1 - 2 * eps);
          break;
      }
      loss = per_pair.mean();
    }
    // DPO's implicit rewards β·(log π − log π_ref) on summed log-probs (TRL DPOTrainer metrics).
    add_reward_metrics(m, o.beta * chosen_logratio, o.beta * rejected_logratio);
    m.add("logps/chosen", cw.mean());
    m.add("logps/rejected", cl.mean());
  }

  if (is_orpo(o.kind)) {
    const at::Tensor mw = cw / nw, ml = cl / nl;  // ℓ̄: per-token mean log-probs
    // log odds(y_w) − log odds(y_l), odds = p/(1−p) (ORPO eq. 4/7; TRL odds_ratio_loss)
    const at::Tensor log_odds = (mw - ml) - (log1mexp(mw) - log1mexp(ml));
    const at::Tensor ratio = F::logsigmoid(log_odds);
    const at::Tensor nll = token_mean_nll(cw, nw);
    loss = nll - o.beta * ratio.mean();  // L = NLL − λ·log σ(log_odds) (ORPO eq. 6; TRL: nll − mean(β·ratio))
    // TRL ORPO's metric meanings: rewards are β·ℓ̄ (mean log-probs, no reference), logps are ℓ̄,
    // log_odds_ratio = mean log σ(log_odds) (the term that is *subtracted*), log_odds_chosen = mean log_odds.
    add_reward_metrics(m, o.beta * mw, o.beta * ml);
    m.add("logps/chosen", mw.mean());
    m.add("logps/rejected", ml.mean());
    m.add("nll_loss", nll);
    m.add("log_odds_ratio", ratio.mean());
    m.add("log_odds_chosen", log_odds.mean());
  }

  if (is_simpo(o.kind)) {
    const at::Tensor mw = cw / nw, ml = cl / nl;
    // −log σ(β·(ℓ̄_w − ℓ̄_l) − γ_margin), label-smoothed (SimPO eq. 6; TRL CPOTrainer.cpo_loss "simpo")
    const at::Tensor z = o.beta * (mw - ml) - o.simpo_margin;
    loss = smoothed_logistic(z, o.label_smoothing).mean();
    // TRL CPO's metric meanings (reference-free): rewards β·ℓ̄, logps ℓ̄.
    add_reward_metrics(m, o.beta * mw, o.beta * ml);
    m.add("logps/chosen", mw.mean());
    m.add("logps/rejected", ml.mean());
  }

  if (o.sft_weight != 0) {  // + w·NLL(y_w) (TRL DPO loss_types [.., "sft"] with loss_weights; CPO cpo_alpha)
    const at::Tensor nll = token_mean_nll(cw, nw);
    loss = loss + o.sft_weight * nll;
    m.add("nll_loss", nll);
  }

  if (uses_rationale) {
    // RDPO eq. 2 (γ·(−log π(r|…)), no reference); RORPO: −γ·ℓ̄(r); RSimPO: + γ·rationale NLL
    // (the natural form, not confirmed by the authors); rationale-only: this term alone.
    const at::Tensor term = rationale_term(o, rs, rn).mean();
    rationale_loss = term;
    loss = loss + term;
  }
  if (has_rationale) {
    m.add("logps/rationale", rs.mean());
    m.add("nll/rationale", token_mean_nll(rs, rn));
  }
  m.add("loss", loss);

  LossOutput out;
  out.loss = loss;
  out.rationale_loss = rationale_loss;
  out.metrics = m.to_map();
  return out;
}

}  // namespace rdpo
