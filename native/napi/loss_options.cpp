// lossCatalogue() -> { losses: LossSpec[], dpoVariants, rationaleForms, rationaleNorms, options } (sync),
// and the loss-option parser every binding file uses.
#include "napi/loss_options.h"

#include <optional>
#include <string>
#include <vector>

#include "napi/args.h"
#include "napi/errors.h"
#include "napi/registry.h"

namespace rdpo::napi {

rdpo::LossOptions parse_loss_options(const Napi::Object& o) {
  Napi::Value loss = o.Get("loss");
  if (!loss.IsString()) {
    std::string names;
    for (const auto& s : rdpo::loss_catalogue()) names += (names.empty() ? "" : ", ") + s.name;
    throw Napi::TypeError::New(o.Env(), std::string("option 'loss' ") +
                                            (loss.IsUndefined() ? "is required" : "must be a string") + ": one of " +
                                            names);
  }
  auto kind = rdpo::parse_loss_kind(loss.As<Napi::String>().Utf8Value());
  std::optional<rdpo::RationaleForm> form;
  if (!o.Get("rationaleForm").IsUndefined()) form = rdpo::parse_rationale_form(opt_string(o, "rationaleForm", ""));
  auto opts = rdpo::LossOptions::defaults_for(kind, form);
  opts.variant = rdpo::parse_dpo_variant(opt_string(o, "dpoVariant", rdpo::dpo_variant_name(opts.variant)));
  opts.rationale_norm =
      rdpo::parse_rationale_norm(opt_string(o, "rationaleNorm", rdpo::rationale_norm_name(opts.rationale_norm)));
  opts.beta = opt_number(o, "beta", opts.beta);
  opts.gamma = opt_number(o, "gamma", opts.gamma);
  opts.label_smoothing = opt_number(o, "labelSmoothing", opts.label_smoothing);
  opts.simpo_margin = opt_number(o, "simpoMargin", opts.simpo_margin);
  opts.sft_weight = opt_number(o, "sftWeight", opts.sft_weight);
  return opts;
}

namespace {

Napi::Array strings(Napi::Env env, const std::vector<std::string>& values) {
  auto arr = Napi::Array::New(env, values.size());
  for (uint32_t i = 0; i < values.size(); ++i) arr.Set(i, values[i]);
  return arr;
}

Napi::Object defaults_to_js(Napi::Env env, const rdpo::LossOptions& d) {
  auto o = Napi::Object::New(env);
  o.Set("beta", d.beta);
  o.Set("gamma", d.gamma);
  o.Set("labelSmoothing", d.label_smoothing);
  o.Set("simpoMargin", d.simpo_margin);
  o.Set("sftWeight", d.sft_weight);
  o.Set("dpoVariant", rdpo::dpo_variant_name(d.variant));
  o.Set("rationaleForm", rdpo::rationale_form_name(d.rationale_form));
  o.Set("rationaleNorm", rdpo::rationale_norm_name(d.rationale_norm));
  return o;
}

Napi::Value LossCatalogue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& catalogue = rdpo::loss_catalogue();
  auto losses = Napi::Array::New(env, catalogue.size());
  for (uint32_t i = 0; i < catalogue.size(); ++i) {
    const auto& s = catalogue[i];
    auto o = Napi::Object::New(env);
    o.Set("name", s.name);
    o.Set("summary", s.summary);
    o.Set("citation", s.citation);
    o.Set("needsReference", s.needs_reference);
    o.Set("needsRejected", s.needs_rejected);
    o.Set("needsRationale", s.needs_rationale);
    std::vector<std::string> params;
    for (auto p : s.params) params.push_back(rdpo::loss_param_name(p));
    o.Set("options", strings(env, params));
    o.Set("defaults", defaults_to_js(env, s.defaults));
    o.Set("gammaPaper", s.gamma_paper);
    o.Set("gammaLogsigmoid", s.gamma_logsigmoid);
    losses.Set(i, o);
  }
  auto out = Napi::Object::New(env);
  out.Set("losses", losses);
  out.Set("dpoVariants", strings(env, rdpo::dpo_variant_names()));
  out.Set("rationaleForms", strings(env, rdpo::rationale_form_names()));
  out.Set("rationaleNorms", strings(env, rdpo::rationale_norm_names()));
  out.Set("options", strings(env, rdpo::loss_param_names()));
  return out;
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("lossCatalogue", Napi::Function::New(env, LossCatalogue, "lossCatalogue"));
}

RDPO_NAPI_EXPORTS(Export);

}  // namespace
}  // namespace rdpo::napi
