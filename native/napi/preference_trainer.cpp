// createTrainer(model, options) -> Promise<NativeTrainer>, and referenceLogps(model, batch, options).
// The trainer computes with the model under the model's own lock, so training calls and any
// other call on the same model (generate, save) are serialised.
#include <napi.h>

#include <memory>

#include "core/base/dtype.h"
#include "core/train/data_parallel.h"
#include "core/train/preference_trainer.h"
#include "napi/args.h"
#include "napi/async.h"
#include "napi/distributed.h"
#include "napi/errors.h"
#include "napi/loss_options.h"
#include "napi/model.h"
#include "napi/packed_batch.h"
#include "napi/registry.h"
#include "napi/typed_array.h"

namespace rdpo::napi {
namespace {

// A preference batch borrowed from JS (see lib/train/preference_batch.ts).
struct BorrowedPreferenceBatch {
  BorrowedPackedBatch packed;
  int64_t num_pairs = 0, num_pair_groups = 0;
  bool has_rejected = true, has_rationale = false;
  at::Tensor ref_chosen, ref_rejected;  // borrowed float32, may be undefined
};

BorrowedPreferenceBatch borrow_preference_batch(const Napi::Object& b) {
  BorrowedPreferenceBatch out;
  out.packed = borrow_packed_batch(b, "batch");
  out.num_pairs = req_int(b, "numPairs", 1, int64_t(1) << 24);
  out.num_pair_groups = req_int(b, "numPairGroups", 1, int64_t(1) << 24);
  out.has_rejected = opt_bool(b, "hasRejected", true);
  out.has_rationale = opt_bool(b, "hasRationale", false);
  for (auto [key, target] :
       {std::pair<const char*, at::Tensor*>{"refChosen", &out.ref_chosen}, {"refRejected", &out.ref_rejected}}) {
    Napi::Value v = b.Get(key);
    if (v.IsUndefined() || v.IsNull()) continue;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(b.Env(), std::string("'batch.") + key + "' must be a Float32Array");
    *target = borrow_tensor(v, key);
    if (target->numel() != out.num_pairs)
      throw Napi::RangeError::New(b.Env(), std::string("'batch.") + key + "' must hold one value per pair");
    out.packed.pinned.push_back(v);
  }
  return out;
}

rdpo::PreferenceBatch to_preference_batch(const BorrowedPreferenceBatch& in) {
  rdpo::PreferenceBatch b;
  b.packed = to_packed_batch(in.packed);
  b.num_pairs = in.num_pairs;
  b.num_pair_groups = in.num_pair_groups;
  b.has_rejected = in.has_rejected;
  b.has_rationale = in.has_rationale;
  if (in.ref_chosen.defined()) b.ref_chosen = in.ref_chosen.clone();
  if (in.ref_rejected.defined()) b.ref_rejected = in.ref_rejected.clone();
  return b;
}

Napi::Object metrics_to_js(Napi::Env env, const rdpo::StepMetrics& m) {
  auto o = Napi::Object::New(env);
  o.Set("loss", m.loss);
  for (const auto& [k, v] : m.values) o.Set(k, v);
  return o;
}

rdpo::TrainerOptions trainer_options(const Napi::Object& o) {
  rdpo::TrainerOptions t;
  t.loss = parse_loss_options(o);
  t.adamw.beta1 = opt_number(o, "adamBeta1", t.adamw.beta1);
  t.adamw.beta2 = opt_number(o, "adamBeta2", t.adamw.beta2);
  t.adamw.eps = opt_number(o, "adamEps", t.adamw.eps);
  t.adamw.weight_decay = opt_number(o, "weightDecay", t.adamw.weight_decay);
  const rdpo::ScoringOptions scoring = scoring_options(o);
  t.compute_dtype = rdpo::parse_dtype(scoring.compute_dtype);
  t.gradient_checkpointing = opt_bool(o, "gradientCheckpointing", false);
  t.logits_chunk = scoring.logits_chunk;
  return t;
}

class NativeTrainer : public Napi::ObjectWrap<NativeTrainer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function cls =
        DefineClass(env, "NativeTrainer",
                    {InstanceMethod<&NativeTrainer::Accumulate>("accumulate"),
                     InstanceMethod<&NativeTrainer::Step>("step"), InstanceMethod<&NativeTrainer::Evaluate>("evaluate"),
                     InstanceMethod<&NativeTrainer::SaveOptimizerState>("saveOptimizerState"),
                     InstanceMethod<&NativeTrainer::LoadOptimizerState>("loadOptimizerState"),
                     InstanceAccessor<&NativeTrainer::OptimizerSteps>("optimizerSteps"),
                     InstanceAccessor<&NativeTrainer::LastGradientSync>("lastGradientSync"),
                     InstanceAccessor<&NativeTrainer::NumParameters>("numParameters"),
                     InstanceAccessor<&NativeTrainer::NumOptimizerParameters>("numOptimizerParameters")});
    return AddonState::of(env).define_class("NativeTrainer", cls);
  }

  struct State {
    std::shared_ptr<ModelHolder> holder;
    std::unique_ptr<rdpo::PreferenceTrainer> trainer;
    rdpo::GradientSyncStats last_sync;  // of the last data-parallel step; set on the main thread
  };

  explicit NativeTrainer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTrainer>(info) {
    if (!info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "NativeTrainer is created by createTrainer(), not by `new`");
    state_ = *info[0].As<Napi::External<std::shared_ptr<State>>>().Data();
  }

  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<State> state) {
    auto ext = Napi::External<std::shared_ptr<State>>::New(env, &state);
    return AddonState::of(env).constructor(env, "NativeTrainer").New({ext});
  }

 private:
  // Runs fn(trainer) under the model's lock, off the main thread.
  template <typename Fn>
  static auto locked(const std::shared_ptr<State>& s, Fn&& fn) {
    return s->holder->with_model([&](rdpo::CausalLM&) { return fn(*s->trainer); });
  }

  Napi::Value Accumulate(const Napi::CallbackInfo& info) {
    auto batch = borrow_preference_batch(arg_object(info, 0, "batch"));
    double scale = arg_number(info, 1, "scale");
    if (!(scale > 0) || scale > 1) throw Napi::RangeError::New(info.Env(), "'scale' must be in (0, 1]");
    // Data-parallel: true on a step's last micro-batch (its backward starts the gradient all-reduce).
    const bool last = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    // The per-term gradient norms (grad_norm/preference, grad_norm/rationale) of this micro-batch.
    const bool term_norms = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
    auto s = state_;
    auto pinned = batch.packed.pinned;
    return run_async(
        info.Env(),
        [s, batch, scale, last, term_norms]() -> ToJs {
          auto m = locked(s, [&](rdpo::PreferenceTrainer& t) {
            if (last) t.prepare_last_micro_batch();
            return t.accumulate(to_preference_batch(batch), scale, term_norms);
          });
          return [m](Napi::Env env) -> Napi::Value { return metrics_to_js(env, m); };
        },
        pinned);
  }

  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    auto batch = borrow_preference_batch(arg_object(info, 0, "batch"));
    auto s = state_;
    auto pinned = batch.packed.pinned;
    return run_async(
        info.Env(),
        [s, batch]() -> ToJs {
          auto m = locked(s, [&](rdpo::PreferenceTrainer& t) { return t.evaluate(to_preference_batch(batch)); });
          return [m](Napi::Env env) -> Napi::Value { return metrics_to_js(env, m); };
        },
        pinned);
  }

  Napi::Value Step(const Napi::CallbackInfo& info) {
    double lr = arg_number(info, 0, "lr");
    double max_norm = arg_number(info, 1, "maxGradNorm");
    if (!(lr >= 0) || !std::isfinite(lr)) throw Napi::RangeError::New(info.Env(), "'lr' must be a finite number >= 0");
    if (!(max_norm >= 0)) throw Napi::RangeError::New(info.Env(), "'maxGradNorm' must be >= 0 (0 = no clipping)");
    auto s = state_;
    return run_async(info.Env(), [s, lr, max_norm]() -> ToJs {
      const rdpo::OptimizerStep r = locked(s, [&](rdpo::PreferenceTrainer& t) { return t.step(lr, max_norm); });
      return [s, r](Napi::Env env) -> Napi::Value {
        if (r.gradient_sync) s->last_sync = *r.gradient_sync;
        return Napi::Number::New(env, r.grad_norm);
      };
    });
  }

  // The last step's gradient synchronisation (defaults before the first data-parallel step).
  Napi::Value LastGradientSync(const Napi::CallbackInfo& info) {
    const rdpo::GradientSyncStats& g = state_->last_sync;
    auto o = Napi::Object::New(info.Env());
    o.Set("buckets", static_cast<double>(g.buckets));
    o.Set("startedInBackward", static_cast<double>(g.started_in_backward));
    o.Set("collective", g.collective);
    o.Set("gradientBytesSent", static_cast<double>(g.gradient_bytes_sent));
    o.Set("parameterBytesSent", static_cast<double>(g.parameter_bytes_sent));
    o.Set("gradientElements", static_cast<double>(g.gradient_elements));
    o.Set("collectives", static_cast<double>(g.collectives));
    return o;
  }

  Napi::Value SaveOptimizerState(const Napi::CallbackInfo& info) {
    std::string file = arg_string(info, 0, "file");
    auto s = state_;
    return run_async(info.Env(), [s, file]() -> ToJs {
      locked(s, [&](rdpo::PreferenceTrainer& t) {
        t.save_optimizer_state(file);
        return 0;
      });
      return nullptr;
    });
  }

  Napi::Value LoadOptimizerState(const Napi::CallbackInfo& info) {
    std::string file = arg_string(info, 0, "file");
    auto s = state_;
    return run_async(info.Env(), [s, file]() -> ToJs {
      locked(s, [&](rdpo::PreferenceTrainer& t) {
        t.load_optimizer_state(file);
        return 0;
      });
      return nullptr;
    });
  }

  Napi::Value OptimizerSteps(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(state_->trainer->optimizer().step_count()));
  }

  Napi::Value NumParameters(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(state_->trainer->num_parameters()));
  }

  Napi::Value NumOptimizerParameters(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(state_->trainer->num_optimizer_parameters()));
  }

  std::shared_ptr<State> state_;
};

// createTrainer(model, options) -> Promise<NativeTrainer>: sets up AdamW state over the model's
// parameters. The options are checked here (a bad one throws at once); the set-up takes the model's
// lock, which a long call on the model (generate, a training step) can hold for seconds, so it runs
// on the compute thread and never blocks the event loop waiting for that lock.
Napi::Value CreateTrainer(const Napi::CallbackInfo& info) {
  auto holder = model_holder_of(info[0], "model");
  Napi::Object opts = arg_object(info, 1, "options");
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto options = trainer_options(opts);
    // Data-parallel (core/train/data_parallel.h): step() sums the gradients over the group's ranks
    // first; with shardOptimizer each rank keeps the AdamW state of its own parameters (ZeRO-1).
    rdpo::DataParallelOptions dp;
    if (Napi::Value pg = opts.Get("processGroup"); !pg.IsUndefined()) {
      dp.group = process_group_of(pg, "options.processGroup");
      dp.bucket_bytes = opt_int(opts, "bucketBytes", dp.bucket_bytes, 1024, int64_t(1) << 40);
      dp.overlap_backward = opt_bool(opts, "overlapBackward", dp.overlap_backward);
      dp.shard_optimizer = opt_bool(opts, "shardOptimizer", false);
    }
    return run_async(info.Env(), [holder, options, dp]() -> ToJs {
      auto state = std::make_shared<NativeTrainer::State>();
      state->holder = holder;
      state->trainer =
          holder->with_model([&](rdpo::CausalLM& m) { return rdpo::make_preference_trainer(m, options, dp); });
      return [state](Napi::Env env) -> Napi::Value { return NativeTrainer::Wrap(env, state); };
    });
  });
}

// referenceLogps(model, batch, {computeDtype, logitsChunk}) -> Promise<{chosen, rejected}>
Napi::Value ReferenceLogps(const Napi::CallbackInfo& info) {
  auto holder = model_holder_of(info[0], "model");
  auto batch = borrow_preference_batch(arg_object(info, 1, "batch"));
  const rdpo::ScoringOptions scoring = scoring_options(info, 2);
  auto pinned = batch.packed.pinned;
  return run_async(
      info.Env(),
      [holder, batch, scoring]() -> ToJs {
        auto r = holder->with_model([&](rdpo::CausalLM& m) {
          return rdpo::reference_logps(m, to_preference_batch(batch), rdpo::parse_dtype(scoring.compute_dtype),
                                       scoring.logits_chunk);
        });
        return [r](Napi::Env env) -> Napi::Value {
          auto o = Napi::Object::New(env);
          o.Set("chosen", tensor_to_typed_array(env, r.first));
          o.Set("rejected", tensor_to_typed_array(env, r.second));
          return o;
        };
      },
      pinned);
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTrainer", NativeTrainer::Define(env));
  exports.Set("createTrainer", Napi::Function::New(env, CreateTrainer, "createTrainer"));
  exports.Set("referenceLogps", Napi::Function::New(env, ReferenceLogps, "referenceLogps"));
}

RDPO_NAPI_EXPORTS(Export);

}  // namespace
}  // namespace rdpo::napi
