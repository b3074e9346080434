// Test and bench binding of the loss stage (native/core/train/preference_loss.h, token_logprobs.h):
//   preferenceLoss(options, policy, reference?)  -> { loss, grads, metrics }   (sync, small inputs;
//     options as createTrainer's loss options, napi/loss_options.h)
//   fusedLogprobsCheck({ n, h, v, chunk, dtype, seed }) -> max relative errors fused vs unfused (sync)
//   fusedLogprobsPeakMemory({ n, h, v, chunk, fused, dtype }) -> Promise<{ peakBytes, seconds }>
//   tokenLogprobs(hidden, weight, targets, { h, chunk, fused }) -> Float32Array   (sync, small inputs)
//   reduceBySequence(tokenLogps, scoreSeq, numSequences) -> { sum, count }   (sync)
// The trainer calls the core directly; these exist so tests can compare against TRL fixtures.
#include <napi.h>

#include "core/base/errors.h"
#include "core/train/preference_loss.h"
#include "core/model/token_logprobs.h"
#include "core/checks/token_logprobs_check.h"
#include "napi/args.h"
#include "napi/async.h"
#include "napi/errors.h"
#include "napi/loss_options.h"
#include "napi/registry.h"
#include "napi/typed_array.h"

namespace rdpo::napi {
namespace {

// An owned copy of obj[key] (absent/undefined gives an undefined tensor); sums become autograd leaves.
at::Tensor field(const Napi::Object& obj, const char* key, const std::string& where, bool leaf) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return at::Tensor();
  std::string name = where + "." + key;
  at::Tensor t = borrow_tensor(v, name.c_str()).clone();
  if (leaf) {
    if (!at::isFloatingType(t.scalar_type()))
      throw Napi::TypeError::New(obj.Env(), name + " must be a Float32Array or Float64Array");
    t.requires_grad_(true);
  }
  return t;
}

Napi::Value PreferenceLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object options = arg_object(info, 0, "options");
  Napi::Object policy_js = arg_object(info, 1, "policy");
  bool has_ref = info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull();
  Napi::Object ref_js = has_ref ? arg_object(info, 2, "reference") : Napi::Object();
  return guarded(env, [&]() -> Napi::Value {
    rdpo::LossOptions opts = parse_loss_options(options);
    rdpo::PolicyLogps policy;
    policy.chosen_sum = field(policy_js, "chosenSum", "policy", true);
    policy.chosen_count = field(policy_js, "chosenCount", "policy", false);
    policy.rejected_sum = field(policy_js, "rejectedSum", "policy", true);
    policy.rejected_count = field(policy_js, "rejectedCount", "policy", false);
    policy.rationale_sum = field(policy_js, "rationaleSum", "policy", true);
    policy.rationale_count = field(policy_js, "rationaleCount", "policy", false);
    rdpo::ReferenceLogps reference;
    if (has_ref) {
      reference.chosen_sum = field(ref_js, "chosenSum", "reference", false);
      reference.rejected_sum = field(ref_js, "rejectedSum", "reference", false);
    }

    torch::AutoGradMode grad_on(true);
    rdpo::LossOutput out = rdpo::preference_loss(opts, policy, has_ref ? &reference : nullptr);

    // d loss / d each policy sum that was given; an unused one (chosen in rationale-only) is zeros.
    const std::pair<const char*, at::Tensor> candidates[] = {
        {"chosenSum", policy.chosen_sum}, {"rejectedSum", policy.rejected_sum}, {"rationaleSum", policy.rationale_sum}};
    std::vector<std::pair<const char*, at::Tensor>> leaves;
    for (const auto& [name, t] : candidates)
      if (t.defined()) leaves.emplace_back(name, t);
    std::vector<at::Tensor> inputs;
    for (auto& l : leaves) inputs.push_back(l.second);
    std::vector<at::Tensor> grads =
        torch::autograd::grad({out.loss}, inputs, /*grad_outputs=*/{}, /*retain_graph=*/false, /*create_graph=*/false,
                              /*allow_unused=*/true);

    auto result = Napi::Object::New(env);
    result.Set("loss", out.loss.item<double>());
    auto grads_js = Napi::Object::New(env);
    for (size_t i = 0; i < leaves.size(); ++i) {
      at::Tensor g = grads[i].defined() ? grads[i] : at::zeros_like(leaves[i].second);
      grads_js.Set(leaves[i].first, tensor_to_typed_array(env, g.detach().contiguous()));
    }
    result.Set("grads", grads_js);
    auto metrics = Napi::Object::New(env);
    for (const auto& [k, v] : out.metrics) metrics.Set(k, v);
    result.Set("metrics", metrics);
    return result;
  });
}

Napi::Value FusedLogprobsCheck(const Napi::CallbackInfo& info) {
  Napi::Object o = arg_object(info, 0, "options");
  int64_t n = opt_int(o, "n", 300, 1, int64_t(1) << 24);
  int64_t h = opt_int(o, "h", 64, 1, 1 << 16);
  int64_t v = opt_int(o, "v", 1000, 1, 1 << 22);
  int64_t chunk = opt_int(o, "chunk", 128, 1, int64_t(1) << 24);
  std::string dtype = opt_string(o, "dtype", "float32");
  int64_t seed = opt_int(o, "seed", 0, 0, int64_t(1) << 52);
  std::string device = opt_string(o, "device", "cpu");
  double softcap = opt_number(o, "softcap", 0.0);
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto e = rdpo::compare_fused_to_unfused(n, h, v, chunk, dtype, static_cast<uint64_t>(seed), device, softcap);
    auto r = Napi::Object::New(info.Env());
    r.Set("values", e.values);
    r.Set("gradHidden", e.grad_hidden);
    r.Set("gradWeight", e.grad_weight);
    return r;
  });
}

Napi::Value FusedLogprobsPeakMemory(const Napi::CallbackInfo& info) {
  Napi::Object o = arg_object(info, 0, "options");
  int64_t n = req_int(o, "n", 1, int64_t(1) << 24);
  int64_t h = req_int(o, "h", 1, 1 << 16);
  int64_t v = req_int(o, "v", 1, 1 << 22);
  int64_t chunk = opt_int(o, "chunk", 1024, 1, int64_t(1) << 24);
  bool fused = opt_bool(o, "fused", true);
  std::string dtype = opt_string(o, "dtype", "float32");
  return run_async(info.Env(), [=]() -> ToJs {
    auto m = rdpo::measure_loss_stage_memory(n, h, v, chunk, fused, dtype);
    return [m](Napi::Env env) -> Napi::Value {
      auto r = Napi::Object::New(env);
      r.Set("peakBytes", static_cast<double>(m.peak_bytes));
      r.Set("seconds", m.seconds);
      return r;
    };
  });
}

// tokenLogprobs(hidden [N*H], weight [V*H], targets [N], { h, chunk, fused }): float32 log-probs.
Napi::Value TokenLogprobs(const Napi::CallbackInfo& info) {
  Napi::Object o = arg_object(info, 3, "options");
  int64_t h = req_int(o, "h", 1, 1 << 16);
  int64_t chunk = opt_int(o, "chunk", 1024, 1, int64_t(1) << 24);
  bool fused = opt_bool(o, "fused", true);
  at::Tensor hidden = borrow_tensor(info[0], "hidden");
  at::Tensor weight = borrow_tensor(info[1], "weight");
  at::Tensor targets = borrow_tensor(info[2], "targets");
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (hidden.numel() % h != 0 || weight.numel() % h != 0)
      throw rdpo::RangeError("hidden and weight lengths must be multiples of h = " + std::to_string(h));
    torch::NoGradGuard no_grad;
    at::Tensor hr = hidden.view({-1, h}), w = weight.view({-1, h}), t = targets.to(at::kLong);
    at::Tensor logps = fused ? rdpo::fused_token_logprobs(hr, w, t, chunk) : rdpo::token_logprobs_unfused(hr, w, t);
    return tensor_to_typed_array(info.Env(), logps.contiguous());
  });
}

// reduceBySequence(tokenLogps, scoreSeq, numSequences) -> { sum, count } in tokenLogps' dtype.
Napi::Value ReduceBySequence(const Napi::CallbackInfo& info) {
  at::Tensor logps = borrow_tensor(info[0], "tokenLogps");
  at::Tensor seq = borrow_tensor(info[1], "scoreSeq");
  int64_t num = arg_int(info, 2, "numSequences", 0, int64_t(1) << 31);
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto r = rdpo::reduce_by_sequence(logps.clone(), seq.to(at::kLong), num);
    auto out = Napi::Object::New(info.Env());
    out.Set("sum", tensor_to_typed_array(info.Env(), r.sum));
    out.Set("count", tensor_to_typed_array(info.Env(), r.count));
    return out;
  });
}

void Export(Napi::Env env, Napi::Object exports) {
  Napi::Object testing = testing_exports(env, exports);
  testing.Set("preferenceLoss", Napi::Function::New(env, PreferenceLoss, "preferenceLoss"));
  testing.Set("fusedLogprobsCheck", Napi::Function::New(env, FusedLogprobsCheck, "fusedLogprobsCheck"));
  testing.Set("tokenLogprobs", Napi::Function::New(env, TokenLogprobs, "tokenLogprobs"));
  testing.Set("reduceBySequence", Napi::Function::New(env, ReduceBySequence, "reduceBySequence"));
  testing.Set("fusedLogprobsPeakMemory", Napi::Function::New(env, FusedLogprobsPeakMemory, "fusedLogprobsPeakMemory"));
}

RDPO_NAPI_EXPORTS(Export);

}  // namespace
}  // namespace rdpo::napi
