// LoRA adapters on a NativeModel (core/model/lora/lora.h):
//   attachLora(model, {r, alpha, dropout?, targets?, useRslora?, seed?}) -> Promise<LoraInfo>
//   loadLoraAdapter(model, dir)                                        -> Promise<LoraInfo>
//   saveLoraAdapter(model, dir, baseModelNameOrPath)                   -> Promise<void>
//   mergeLora(model)                                                   -> Promise<void>
//   manualSeed(seed)                                                   (dropout masks of a micro-batch)
//   testing.loraGrads(model, batch, options): the adapter path against autograd (core/checks/lora_check.h)
// Each runs under the model's lock, off the main thread. Attaching freezes the base weights.
#include <napi.h>

#include <ATen/CPUGeneratorImpl.h>

#include "core/checks/lora_check.h"
#include "core/model/lora/lora.h"
#include "napi/args.h"
#include "napi/async.h"
#include "napi/errors.h"
#include "napi/model.h"
#include "napi/packed_batch.h"
#include "napi/registry.h"
#include "napi/typed_array.h"

namespace rdpo::napi {
namespace {

struct LoraInfo {
  int64_t r = 0, modules = 0, parameters = 0;
  double alpha = 0, dropout = 0;
  std::vector<std::string> targets;
};

LoraInfo info_of(const rdpo::LoraAdapter& a) {
  LoraInfo i;
  i.r = a.config().r;
  i.alpha = a.config().alpha;
  i.dropout = a.config().dropout;
  i.modules = static_cast<int64_t>(a.modules().size());
  i.parameters = a.num_parameters();
  i.targets = a.config().target_modules;
  return i;
}

ToJs info_to_js(const LoraInfo& i) {
  return [i](Napi::Env env) -> Napi::Value {
    auto o = Napi::Object::New(env);
    o.Set("r", static_cast<double>(i.r));
    o.Set("alpha", i.alpha);
    o.Set("dropout", i.dropout);
    o.Set("modules", static_cast<double>(i.modules));
    o.Set("trainableParameters", static_cast<double>(i.parameters));
    auto t = Napi::Array::New(env, i.targets.size());
    for (size_t k = 0; k < i.targets.size(); ++k) t.Set(static_cast<uint32_t>(k), i.targets[k]);
    o.Set("targets", t);
    return o;
  };
}

Napi::Value AttachLora(const Napi::CallbackInfo& info) {
  auto holder = model_holder_of(info[0], "model");
  Napi::Object o = arg_object(info, 1, "options");
  rdpo::LoraConfig config;
  config.r = req_int(o, "r", 1, int64_t(1) << 20);
  config.alpha = opt_number(o, "alpha", static_cast<double>(config.r));
  config.dropout = opt_number(o, "dropout", 0);
  config.use_rslora = opt_bool(o, "useRslora", false);
  config.seed = static_cast<uint64_t>(opt_int(o, "seed", 0, 0, int64_t(1) << 53));
  Napi::Value targets = o.Get("targets");
  if (!targets.IsUndefined() && !targets.IsNull()) {
    if (!targets.IsArray()) throw Napi::TypeError::New(info.Env(), "option 'targets' must be an array of module names");
    auto arr = targets.As<Napi::Array>();
    config.target_modules.clear();
    for (uint32_t k = 0; k < arr.Length(); ++k) {
      Napi::Value v = arr.Get(k);
      if (!v.IsString()) throw Napi::TypeError::New(info.Env(), "option 'targets' must contain only strings");
      config.target_modules.push_back(v.As<Napi::String>().Utf8Value());
    }
  }
  return run_async(info.Env(), [holder, config]() -> ToJs {
    auto i = holder->with_model([&](rdpo::CausalLM& m) { return info_of(rdpo::LoraAdapter::attach(m, config)); });
    return info_to_js(i);
  });
}

Napi::Value LoadLoraAdapter(const Napi::CallbackInfo& info) {
  auto holder = model_holder_of(info[0], "model");
  std::string dir = arg_string(info, 1, "dir");
  return run_async(info.Env(), [holder, dir]() -> ToJs {
    auto i = holder->with_model([&](rdpo::CausalLM& m) { return info_of(rdpo::LoraAdapter::attach_from(m, dir)); });
    return info_to_js(i);
  });
}

Napi::Value SaveLoraAdapter(const Napi::CallbackInfo& info) {
  auto holder = model_holder_of(info[0], "model");
  std::string dir = arg_string(info, 1, "dir");
  std::string base = info.Length() > 2 && !info[2].IsUndefined() ? arg_string(info, 2, "baseModelNameOrPath") : "";
  return run_async(info.Env(), [holder, dir, base]() -> ToJs {
    holder->with_model([&](rdpo::CausalLM& m) {
      if (!m.lora()) throw rdpo::ArgumentError("saveLoraAdapter: the model has no LoRA adapter attached");
      torch::NoGradGuard no_grad;
      m.lora()->save(dir, base);
      return 0;
    });
    return nullptr;
  });
}

Napi::Value MergeLora(const Napi::CallbackInfo& info) {
  auto holder = model_holder_of(info[0], "model");
  return run_async(info.Env(), [holder]() -> ToJs {
    holder->with_model([&](rdpo::CausalLM& m) {
      rdpo::LoraAdapter::merge_into(m);
      return 0;
    });
    return nullptr;
  });
}

// manualSeed(seed): seeds LibTorch's default generators (CPU and accelerators). The trainer seeds
// each micro-batch from the run's seed and position, so LoRA dropout draws the same masks in a
// resumed run as in an uninterrupted one.
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  const int64_t seed = arg_int(info, 0, "seed", 0, (int64_t(1) << 53));
  return guarded(info.Env(), [&]() -> Napi::Value {
    torch::manual_seed(static_cast<uint64_t>(seed));
    return info.Env().Undefined();
  });
}

// testing.loraGrads(model, packedBatch, {mode: 'adapted' | 'merged', checkpointing?, seed?})
//   -> Promise<{logits: Float32Array, grads: Float32Array}> (core/checks/lora_check.h)
Napi::Value LoraGrads(const Napi::CallbackInfo& info) {
  auto holder = model_holder_of(info[0], "model");
  auto borrowed = borrow_packed_batch(arg_object(info, 1, "batch"), "batch");
  Napi::Object o = arg_object(info, 2, "options");
  const std::string mode = opt_string(o, "mode", "adapted");
  if (mode != "adapted" && mode != "merged")
    throw Napi::RangeError::New(info.Env(), "option 'mode' must be 'adapted' or 'merged'");
  const bool checkpointing = opt_bool(o, "checkpointing", false);
  const uint64_t seed = static_cast<uint64_t>(opt_int(o, "seed", 0, 0, int64_t(1) << 53));
  return run_async(
      info.Env(),
      [holder, borrowed, mode, checkpointing, seed]() -> ToJs {
        rdpo::PackedBatch batch = to_packed_batch(borrowed);
        auto g = holder->with_model([&](rdpo::CausalLM& m) {
          const int64_t rows = batch.input_ids.size(0), vocab = m.config().vocab_size;
          at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
          at::Tensor probe = at::randn({rows, vocab}, gen, torch::kFloat32);
          return mode == "merged" ? rdpo::lora_merged_grads(m, batch, probe)
                                  : rdpo::lora_adapted_grads(m, batch, probe, checkpointing, seed);
        });
        at::Tensor logits = g.logits.contiguous(), grads = g.grads.contiguous();
        return [logits, grads](Napi::Env env) -> Napi::Value {
          auto r = Napi::Object::New(env);
          r.Set("logits", tensor_to_typed_array(env, logits));
          r.Set("grads", tensor_to_typed_array(env, grads));
          return r;
        };
      },
      borrowed.pinned);
}

void Export(Napi::Env env, Napi::Object exports) {
  testing_exports(env, exports).Set("loraGrads", Napi::Function::New(env, LoraGrads, "loraGrads"));
  exports.Set("attachLora", Napi::Function::New(env, AttachLora, "attachLora"));
  exports.Set("loadLoraAdapter", Napi::Function::New(env, LoadLoraAdapter, "loadLoraAdapter"));
  exports.Set("saveLoraAdapter", Napi::Function::New(env, SaveLoraAdapter, "saveLoraAdapter"));
  exports.Set("mergeLora", Napi::Function::New(env, MergeLora, "mergeLora"));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed, "manualSeed"));
}

RDPO_NAPI_EXPORTS(Export);

}  // namespace
}  // namespace rdpo::napi
