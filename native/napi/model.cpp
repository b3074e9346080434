// loadModel(dir, {dtype, device}) -> Promise<NativeModel>, and NativeModel: a causal LM owned by
// the native side. Every method that computes returns a Promise and runs off the event loop;
// a per-model mutex serialises concurrent calls on one model. Token arrays arrive as Int32Array
// (borrowed without a copy, pinned until the promise settles) and are widened to int64 inside.
#include <napi.h>

#include <cmath>
#include <memory>
#include <mutex>

#include "core/model/causal_lm.h"
#include "core/base/dtype.h"
#include "core/base/errors.h"
#include "core/model/sequence_scoring.h"
#include "napi/args.h"
#include "napi/async.h"
#include "napi/errors.h"
#include "napi/model.h"
#include "napi/packed_batch.h"
#include "napi/registry.h"
#include "napi/typed_array.h"

namespace rdpo::napi {
namespace {

// Independent sequences, each its own group, from tokens + lengths (both int32, borrowed).
rdpo::PackedBatch independent_sequences(const at::Tensor& tokens32, const at::Tensor& lengths32) {
  const int64_t n = lengths32.size(0);
  std::vector<int64_t> offsets{0};
  std::vector<at::Tensor> positions;
  const int32_t* len = lengths32.data_ptr<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (len[i] <= 0) throw rdpo::RangeError("lengths[" + std::to_string(i) + "] must be positive");
    offsets.push_back(offsets.back() + len[i]);
    positions.push_back(torch::arange(len[i], torch::kInt64));
  }
  if (n == 0) throw rdpo::RangeError("lengths must list at least one sequence");
  if (offsets.back() != tokens32.size(0))
    throw rdpo::RangeError("lengths add up to " + std::to_string(offsets.back()) + " but tokens has " +
                           std::to_string(tokens32.size(0)) + " entries");
  rdpo::PackedBatch b;
  b.input_ids = tokens32.to(torch::kInt64);
  b.position_ids = at::cat(positions);
  b.branch_ids = torch::zeros({tokens32.size(0)}, torch::kInt32);
  b.group_offsets = offsets;
  b.score_rows = torch::zeros({0}, torch::kInt64);
  b.score_targets = torch::zeros({0}, torch::kInt64);
  b.score_seq = torch::zeros({0}, torch::kInt64);
  return b;
}

Napi::Object config_to_js(Napi::Env env, const rdpo::ModelConfig& c, c10::ScalarType dtype, c10::Device device) {
  auto o = Napi::Object::New(env);
  o.Set("modelType", c.model_type);
  o.Set("vocabSize", static_cast<double>(c.vocab_size));
  o.Set("hiddenSize", static_cast<double>(c.hidden_size));
  o.Set("intermediateSize", static_cast<double>(c.intermediate_size));
  o.Set("numLayers", static_cast<double>(c.num_layers));
  o.Set("numHeads", static_cast<double>(c.num_heads));
  o.Set("numKvHeads", static_cast<double>(c.num_kv_heads));
  o.Set("headDim", static_cast<double>(c.head_dim));
  o.Set("maxPositionEmbeddings", static_cast<double>(c.max_position_embeddings));
  o.Set("tieWordEmbeddings", c.tie_word_embeddings);
  o.Set("ropeType", c.rope.type);
  o.Set("ropeTheta", c.rope.theta);
  o.Set("slidingWindow", static_cast<double>(c.sliding_window));
  auto id_or_null = [&](int64_t id) -> Napi::Value {
    return id < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(id));
  };
  o.Set("bosTokenId", id_or_null(c.bos_token_id));
  o.Set("padTokenId", id_or_null(c.pad_token_id));
  auto eos = Napi::Array::New(env, c.eos_token_ids.size());
  for (size_t i = 0; i < c.eos_token_ids.size(); ++i)
    eos.Set(static_cast<uint32_t>(i), static_cast<double>(c.eos_token_ids[i]));
  o.Set("eosTokenIds", eos);
  o.Set("dtype", rdpo::dtype_name(dtype));
  o.Set("device", device.str());
  return o;
}

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function cls =
        DefineClass(env, "NativeModel",
                    {InstanceMethod<&NativeModel::Config>("config"), InstanceMethod<&NativeModel::Logits>("logits"),
                     InstanceMethod<&NativeModel::SequenceLogprobs>("sequenceLogprobs"),
                     InstanceMethod<&NativeModel::Generate>("generate"), InstanceMethod<&NativeModel::Save>("save"),
                     InstanceMethod<&NativeModel::Dispose>("dispose")});
    return AddonState::of(env).define_class("NativeModel", cls);
  }

  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<ModelHolder> holder) {
    auto ext = Napi::External<std::shared_ptr<ModelHolder>>::New(env, &holder);
    // The constructor copies the pointer before `holder` goes away.
    return AddonState::of(env).constructor(env, "NativeModel").New({ext});
  }

  explicit NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {
    if (!info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "NativeModel is created by loadModel(), not by `new`");
    holder_ = *info[0].As<Napi::External<std::shared_ptr<ModelHolder>>>().Data();
    // Immutable facts, readable on the main thread without taking the model's lock.
    config_ = holder_->model->config();
    dtype_ = holder_->model->dtype();
    device_ = holder_->model->device();
  }

  const std::shared_ptr<ModelHolder>& holder() const { return holder_; }

 private:
  Napi::Value Config(const Napi::CallbackInfo& info) { return config_to_js(info.Env(), config_, dtype_, device_); }

  // logits(tokens: Int32Array, lengths: Int32Array) -> Promise<Float32Array [sum(lengths) * vocab]>
  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    at::Tensor tokens = borrow_int32(info[0], "tokens");
    at::Tensor lengths = borrow_int32(info[1], "lengths");
    auto holder = holder_;
    return run_async(env,
                     [holder, tokens, lengths]() -> ToJs {
                       at::Tensor out = holder->with_model([&](rdpo::CausalLM& m) {
                         torch::NoGradGuard no_grad;
                         return m.logits(independent_sequences(tokens, lengths)).cpu().contiguous();
                       });
                       return [out](Napi::Env env) -> Napi::Value { return tensor_to_typed_array(env, out); };
                     },
                     {info[0], info[1]});
  }

  // sequenceLogprobs({inputIds, positionIds, branchIds, groupOffsets, scoreRows, scoreTargets, scoreSeq, numSequences},
  //                  {computeDtype?, logitsChunk?}) -> Promise<{sum: Float32Array, count: Int32Array}>
  // The training path (core/model/sequence_scoring.h): fused chunked output layer, autocast to computeDtype.
  Napi::Value SequenceLogprobs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto borrowed = borrow_packed_batch(arg_object(info, 0, "batch"), "batch");
    const rdpo::ScoringOptions scoring = scoring_options(info, 1);
    auto holder = holder_;
    auto pinned = borrowed.pinned;
    return run_async(
        env,
        [holder, borrowed, scoring]() -> ToJs {
          rdpo::PackedBatch batch = to_packed_batch(borrowed);
          auto r = holder->with_model([&](rdpo::CausalLM& m) {
            torch::NoGradGuard no_grad;
            return rdpo::sequence_logprobs(m, batch, rdpo::parse_dtype(scoring.compute_dtype), scoring.logits_chunk);
          });
          at::Tensor sum = r.sum.cpu().contiguous(), count = r.count.to(torch::kCPU, torch::kInt32).contiguous();
          return [sum, count](Napi::Env env) -> Napi::Value {
            auto o = Napi::Object::New(env);
            o.Set("sum", tensor_to_typed_array(env, sum));
            o.Set("count", tensor_to_typed_array(env, count));
            return o;
          };
        },
        pinned);
  }

  // generate(tokens: Int32Array, lengths: Int32Array, opts) -> Promise<{tokens: Int32Array, lengths: Int32Array}>
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    at::Tensor tokens = borrow_int32(info[0], "tokens");
    at::Tensor lengths = borrow_int32(info[1], "lengths");
    rdpo::GenerationOptions opts;
    if (info.Length() > 2 && !info[2].IsUndefined()) {
      Napi::Object o = arg_object(info, 2, "options");
      opts.max_new_tokens = opt_int(o, "maxNewTokens", opts.max_new_tokens, 0, int64_t(1) << 24);
      opts.temperature = opt_number(o, "temperature", opts.temperature);
      opts.top_p = opt_number(o, "topP", opts.top_p);
      opts.top_k = opt_int(o, "topK", opts.top_k, 0, int64_t(1) << 31);
      opts.seed = static_cast<uint64_t>(opt_int(o, "seed", 0, 0, (int64_t(1) << 53)));
      opts.pad_token_id =
          opt_int(o, "padTokenId",
                  config_.pad_token_id >= 0 && config_.pad_token_id < config_.vocab_size ? config_.pad_token_id : 0, 0,
                  config_.vocab_size - 1);
      Napi::Value eos = o.Get("eosTokenIds");
      if (!eos.IsUndefined() && !eos.IsNull()) {
        if (!eos.IsArray()) throw Napi::TypeError::New(env, "option 'eosTokenIds' must be an array of token ids");
        auto arr = eos.As<Napi::Array>();
        for (uint32_t i = 0; i < arr.Length(); ++i) {
          Napi::Value id = arr.Get(i);
          if (!id.IsNumber()) throw Napi::TypeError::New(env, "option 'eosTokenIds' must contain only numbers");
          double d = id.As<Napi::Number>().DoubleValue();
          // Int64Value() would wrap NaN and 2^63+ silently; an id is a whole number below 2^31.
          if (!(d >= 0 && d < 2147483648.0) || std::floor(d) != d)
            throw Napi::RangeError::New(
                env, "option 'eosTokenIds[" + std::to_string(i) + "]' must be a token id (an integer in 0..2^31-1)");
          opts.eos_token_ids.push_back(static_cast<int64_t>(d));
        }
      }
      if (opts.temperature < 0) throw Napi::RangeError::New(env, "option 'temperature' must be >= 0");
      if (!(opts.top_p > 0 && opts.top_p <= 1)) throw Napi::RangeError::New(env, "option 'topP' must be in (0, 1]");
    } else if (config_.pad_token_id >= 0) {
      opts.pad_token_id = config_.pad_token_id;
    }
    auto holder = holder_;
    return run_async(env,
                     [holder, tokens, lengths, opts]() -> ToJs {
                       std::vector<std::vector<int64_t>> prompts;
                       const int32_t* len = lengths.data_ptr<int32_t>();
                       const int32_t* tok = tokens.numel() ? tokens.data_ptr<int32_t>() : nullptr;
                       int64_t offset = 0;
                       for (int64_t i = 0; i < lengths.size(0); ++i) {
                         if (len[i] <= 0) throw rdpo::RangeError("lengths[" + std::to_string(i) + "] must be positive");
                         if (offset + len[i] > tokens.size(0))
                           throw rdpo::RangeError("lengths add up to more than the tokens given");
                         prompts.emplace_back(tok + offset, tok + offset + len[i]);
                         offset += len[i];
                       }
                       if (offset != tokens.size(0))
                         throw rdpo::RangeError("lengths add up to fewer than the tokens given");
                       auto out = holder->with_model([&](rdpo::CausalLM& m) { return m.generate(prompts, opts); });
                       std::vector<int32_t> flat, lens;
                       for (const auto& seq : out) {
                         lens.push_back(static_cast<int32_t>(seq.size()));
                         for (int64_t t : seq) flat.push_back(static_cast<int32_t>(t));
                       }
                       at::Tensor flat_t = torch::tensor(flat, torch::kInt32),
                                  lens_t = torch::tensor(lens, torch::kInt32);
                       return [flat_t, lens_t](Napi::Env env) -> Napi::Value {
                         auto o = Napi::Object::New(env);
                         o.Set("tokens", tensor_to_typed_array(env, flat_t));
                         o.Set("lengths", tensor_to_typed_array(env, lens_t));
                         return o;
                       };
                     },
                     {info[0], info[1]});
  }

  // save(dir, dtype) -> Promise<void>
  Napi::Value Save(const Napi::CallbackInfo& info) {
    std::string dir = arg_string(info, 0, "dir");
    std::string dtype_str =
        info.Length() > 1 && !info[1].IsUndefined() ? arg_string(info, 1, "dtype") : rdpo::dtype_name(dtype_);
    auto holder = holder_;
    return run_async(info.Env(), [holder, dir, dtype_str]() -> ToJs {
      c10::ScalarType dtype = rdpo::parse_dtype(dtype_str);
      holder->with_model([&](rdpo::CausalLM& m) {
        torch::NoGradGuard no_grad;
        m.save(dir, dtype);
        return 0;
      });
      return nullptr;
    });
  }

  // dispose(): frees the weights now, or as soon as the call in flight finishes.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    std::unique_lock<std::mutex> lock(holder_->mutex, std::try_to_lock);
    if (lock.owns_lock())
      holder_->model.reset();
    else
      holder_->dispose_requested = true;
    return info.Env().Undefined();
  }

  std::shared_ptr<ModelHolder> holder_;
  rdpo::ModelConfig config_;
  c10::ScalarType dtype_ = torch::kFloat32;
  c10::Device device_ = c10::Device(c10::kCPU);
};

// loadModel(dir, {dtype?, device?}) -> Promise<NativeModel>
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  std::string dir = arg_string(info, 0, "dir");
  std::string dtype = "float32", device = "cpu";
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    Napi::Object o = arg_object(info, 1, "options");
    dtype = opt_string(o, "dtype", dtype);
    device = opt_string(o, "device", device);
  }
  return run_async(info.Env(), [dir, dtype, device]() -> ToJs {
    auto holder = std::make_shared<ModelHolder>();
    holder->model = rdpo::CausalLM::load(dir, rdpo::parse_dtype(dtype), rdpo::parse_device(device));
    return [holder](Napi::Env env) -> Napi::Value { return NativeModel::Wrap(env, holder); };
  });
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeModel", NativeModel::Define(env));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
}

RDPO_NAPI_EXPORTS(Export);

}  // namespace

std::shared_ptr<ModelHolder> model_holder_of(const Napi::Value& value, const char* name) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(AddonState::of(env).constructor(env, "NativeModel")))
    throw Napi::TypeError::New(value.Env(), std::string("'") + name + "' must be a NativeModel (from loadModel)");
  return NativeModel::Unwrap(value.As<Napi::Object>())->holder();
}
}  // namespace rdpo::napi
