// Loading, saving, the packed forward entry points, gradient checkpointing and generation,
// shared by every architecture (the architectures themselves are llama_model.cpp, gemma_model.cpp and gpt2_model.cpp).
#include "core/model/causal_lm.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <set>

#include "core/model/layers/attention.h"
#include "core/model/compute_weights.h"
#include "core/base/dtype.h"
#include "core/base/errors.h"
#include "core/model/lora/lora.h"
#include "core/io/safetensors.h"

namespace rdpo {

CausalLM::CausalLM(ModelConfig config, c10::ScalarType dtype, c10::Device device)
    : config_(std::move(config)), dtype_(dtype), device_(device) {}

CausalLM::~CausalLM() = default;

std::unique_ptr<CausalLM> CausalLM::load(const std::string& dir, c10::ScalarType dtype, c10::Device device) {
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16 && dtype != torch::kFloat16)
    throw ArgumentError("model dtype must be float32, bfloat16 or float16, got " + dtype_name(dtype));
  ModelConfig config = load_model_config(dir);
  std::unique_ptr<CausalLM> model;
  switch (config.arch) {
    case Architecture::Gpt2:
      model = make_gpt2_model(std::move(config), dtype, device);
      break;
    case Architecture::Gemma:
      model = make_gemma_model(std::move(config), dtype, device);
      break;
    default:
      model = make_llama_model(std::move(config), dtype, device);
  }
  model->load_weights(dir);
  return model;
}

void CausalLM::load_weights(const std::string& dir) {
  TensorMap weights = read_safetensors_dir(dir);
  std::set<std::string> used;
  for (const Slot& slot : slots()) {
    auto it = weights.find(slot.name);
    if (it == weights.end()) {
      // Some checkpoints (the original gpt2) drop the base model's prefix: "h.0..." for "transformer.h.0...".
      auto dot = slot.name.find('.');
      if (dot != std::string::npos) it = weights.find(slot.name.substr(dot + 1));
    }
    if (it == weights.end())
      throw ArgumentError(dir + ": the checkpoint has no tensor '" + slot.name + "' (a " + config_.model_type +
                          " model with these config.json settings needs it)");
    const at::Tensor& t = it->second;
    if (t.sizes() != at::IntArrayRef(slot.shape))
      throw ArgumentError(dir + ": tensor '" + it->first + "' has shape " + c10::str(t.sizes()) +
                          " but config.json implies " + c10::str(at::IntArrayRef(slot.shape)));
    if (!t.is_floating_point())
      throw ArgumentError(dir + ": tensor '" + it->first + "' is " + c10::toString(t.scalar_type()) +
                          ", expected floating point");
    // No copy when dtype and device already match: the parameter stays a view of the mapped file.
    *slot.tensor = t.to(device_, dtype_).set_requires_grad(true);
    used.insert(it->first);
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : weights)
    if (!used.count(name) && !ignorable(name)) unexpected.push_back(name);
  if (!unexpected.empty()) {
    std::string list;
    for (size_t i = 0; i < unexpected.size() && i < 5; ++i) list += (i ? ", " : "") + unexpected[i];
    if (unexpected.size() > 5) list += ", ...";
    throw ArgumentError(dir + ": " + std::to_string(unexpected.size()) +
                        " tensor(s) in the checkpoint are not part of a " + config_.model_type +
                        " model as config.json describes it: " + list);
  }
}

std::vector<std::pair<std::string, at::Tensor>> CausalLM::named_parameters() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& s : slots()) out.emplace_back(s.name, *s.tensor);
  return out;
}

// ---------------------------------------------------------------- gradient checkpointing

namespace {

struct LayerFn : torch::CustomClassHolder {
  std::function<at::Tensor(const at::Tensor&)> fn;
  std::vector<at::Tensor> params;
  // Random state at the forward (LoRA dropout), so that the recomputation draws the same masks.
  std::vector<std::pair<at::Generator, at::Tensor>> rng;
};

// Puts the saved generator states back for its lifetime, then restores the current ones.
class ReplayRng {
 public:
  explicit ReplayRng(const std::vector<std::pair<at::Generator, at::Tensor>>& saved) {
    for (const auto& [gen, state] : saved) {
      at::Generator g = gen;
      std::lock_guard<std::mutex> lock(g.mutex());
      now_.emplace_back(g, g.get_state());
      g.set_state(state);
    }
  }
  ~ReplayRng() {
    for (auto& [gen, state] : now_) {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(state);
    }
  }

 private:
  std::vector<std::pair<at::Generator, at::Tensor>> now_;
};

// Forward runs the layer without recording a graph; backward runs it again with grad on and
// differentiates that copy. The layer's parameters are inputs so their gradients flow back.
struct CheckpointFunction : torch::autograd::Function<CheckpointFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, at::TensorList params,
                            c10::intrusive_ptr<LayerFn> layer) {
    ctx->save_for_backward({x});
    ctx->saved_data["layer"] = c10::IValue::make_capsule(layer);
    return layer->fn(x);  // autograd::Function runs forward with grad mode off
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto layer = c10::static_intrusive_pointer_cast<LayerFn>(ctx->saved_data["layer"].toCapsule());
    at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    at::Tensor y;
    {
      ReplayRng replay(layer->rng);
      torch::AutoGradMode grad_on(true);
      y = layer->fn(x);
    }
    std::vector<at::Tensor> inputs{x};
    for (const auto& p : layer->params) inputs.push_back(p);
    auto grads = torch::autograd::grad({y}, inputs, {grad_out[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                                       /*allow_unused=*/true);
    torch::autograd::variable_list result(grads.begin(), grads.end());
    result.emplace_back();  // nothing for the LayerFn argument
    return result;
  }
};

}  // namespace

at::Tensor CausalLM::run_layer(const std::function<at::Tensor(const at::Tensor&)>& layer, const at::Tensor& x,
                               const std::vector<at::Tensor>& params, const std::string& lora_prefix) {
  if (!checkpointing_ || !torch::GradMode::is_enabled()) return layer(x);
  auto holder = c10::make_intrusive<LayerFn>();
  holder->fn = layer;
  for (const auto& p : params)
    if (p.defined() && p.requires_grad()) holder->params.push_back(p);
  if (lora_ && lora_->enabled() && !lora_prefix.empty()) {
    for (const auto& p : lora_->params_under(lora_prefix)) holder->params.push_back(p);
    if (lora_->config().dropout > 0) {
      std::vector<at::Generator> gens{at::detail::getDefaultCPUGenerator()};
      if (device_.type() != c10::kCPU) gens.push_back(at::globalContext().defaultGenerator(device_));
      for (auto& g : gens) {
        std::lock_guard<std::mutex> lock(g.mutex());
        holder->rng.emplace_back(g, g.get_state());
      }
    }
  }
  return CheckpointFunction::apply(x, at::TensorList(holder->params), holder);
}

// ---------------------------------------------------------------- packed forward

at::Tensor CausalLM::hidden_states(const PackedBatch& batch) {
  batch.validate(config_.vocab_size);
  PackedBatch b = batch.to(device_);
  auto attention = std::make_shared<PackedAttention>(b, AttentionLayout::of(config_));
  return forward_rows(b.input_ids, b.position_ids, attention);
}

at::Tensor CausalLM::logits(const PackedBatch& batch) { return output_logits(hidden_states(batch)); }

at::Tensor CausalLM::output_logits(const at::Tensor& hidden_rows) {
  auto z = at::linear(hidden_rows, lm_head_weight());
  // Soft-capped in the model dtype, then float32, as transformers does (a bf16 ulp near the cap).
  const double cap = config_.final_softcap;
  if (cap > 0) z = at::tanh(z / cap) * cap;
  return z.to(torch::kFloat32);
}

// ---------------------------------------------------------------- save

void CausalLM::save(const std::string& dir, c10::ScalarType dtype) {
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16 && dtype != torch::kFloat16)
    throw ArgumentError("save dtype must be float32, bfloat16 or float16, got " + dtype_name(dtype));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw ArgumentError("cannot create directory " + dir + ": " + ec.message());
  write_safetensors(dir + "/model.safetensors", named_parameters(), dtype);
  json::Value config = config_.raw;
  // transformers 5 reads `dtype`; earlier versions `torch_dtype`.
  config.set(config.find("dtype") || !config.find("torch_dtype") ? "dtype" : "torch_dtype",
             json::Value::string(dtype_name(dtype)));
  write_file_atomic(dir + "/config.json", config.dump(2) + "\n");
}

// ---------------------------------------------------------------- generation

namespace {

// Picks the next token of each row of float32 CPU logits [B, V].
at::Tensor pick_tokens(at::Tensor logits, const GenerationOptions& opts, at::Generator& gen) {
  if (opts.temperature <= 0) return logits.argmax(-1);
  logits = logits / opts.temperature;
  const int64_t V = logits.size(-1);
  if (opts.top_k > 0 && opts.top_k < V) {
    auto kth = std::get<0>(logits.topk(opts.top_k, -1)).narrow(-1, opts.top_k - 1, 1);
    logits = logits.masked_fill(logits < kth, -std::numeric_limits<float>::infinity());
  }
  if (opts.top_p < 1) {
    // Keep the smallest set of most likely tokens whose probability reaches top_p.
    auto [sorted, order] = logits.sort(-1, /*descending=*/true);
    auto probs = sorted.softmax(-1);
    auto mass_before = probs.cumsum(-1) - probs;
    auto drop_sorted = mass_before >= opts.top_p;
    auto drop = torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
    logits = logits.masked_fill(drop, -std::numeric_limits<float>::infinity());
  }
  return at::multinomial(logits.softmax(-1), 1, false, gen).squeeze(1);
}

}  // namespace

std::vector<std::vector<int64_t>> CausalLM::generate(const std::vector<std::vector<int64_t>>& prompts,
                                                     const GenerationOptions& opts) {
  torch::NoGradGuard no_grad;
  const int64_t B = static_cast<int64_t>(prompts.size());
  if (B == 0) return {};
  if (opts.max_new_tokens < 0) throw RangeError("generate: max_new_tokens must be >= 0");
  int64_t longest = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    if (prompts[b].empty()) throw RangeError("generate: prompt " + std::to_string(b) + " is empty");
    for (int64_t t : prompts[b])
      if (t < 0 || t >= config_.vocab_size)
        throw RangeError("generate: prompt " + std::to_string(b) + " has token id " + std::to_string(t) +
                         " outside the vocabulary (size " + std::to_string(config_.vocab_size) + ")");
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts[b].size()));
  }
  std::vector<std::vector<int64_t>> out(B);
  if (opts.max_new_tokens == 0) return out;
  const std::vector<int64_t> eos = opts.eos_token_ids.empty() ? config_.eos_token_ids : opts.eos_token_ids;
  const int64_t capacity = longest + opts.max_new_tokens;
  if (config_.arch == Architecture::Gpt2 && capacity > config_.max_position_embeddings)
    throw RangeError("generate: prompt + max_new_tokens = " + std::to_string(capacity) + " exceeds n_positions " +
                     std::to_string(config_.max_position_embeddings));

  // Left padding: row b's prompt occupies the last len_b slots of the first `longest`.
  auto cpu_i64 = torch::TensorOptions().dtype(torch::kInt64);
  at::Tensor ids = torch::full({B, longest}, opts.pad_token_id, cpu_i64);
  at::Tensor pos = torch::zeros({B, longest}, cpu_i64);
  at::Tensor valid = torch::zeros({B, capacity}, torch::kBool);  // which cache slots hold real tokens
  std::vector<int64_t> next_pos(B);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t len = static_cast<int64_t>(prompts[b].size()), pad = longest - len;
    ids[b].narrow(0, pad, len).copy_(torch::tensor(prompts[b], cpu_i64));
    pos[b].narrow(0, pad, len).copy_(torch::arange(len, cpu_i64));
    valid[b].narrow(0, pad, len).fill_(true);
    next_pos[b] = len;
  }

  auto cache = std::make_shared<CachedAttention>(config_.num_layers, B, config_.num_kv_heads, config_.head_dim,
                                                 capacity, torch::TensorOptions().dtype(dtype_).device(device_));
  // mask[b, 0, i, j]: query i of this step may see slot j (a real token at or before it). Every
  // query also sees itself, so padding rows never have an empty softmax.
  const AttentionLayout layout = AttentionLayout::of(config_);
  cache->set_layout(layout);
  // Slots are consecutive positions of each row, so slot distance is position distance.
  auto step_mask = [&](int64_t past, int64_t step, int64_t window) {
    auto q_slot = torch::arange(past, past + step, cpu_i64).view({step, 1});
    auto k_slot = torch::arange(past + step, cpu_i64).view({1, past + step});
    auto sees = k_slot <= q_slot;
    if (window > 0) sees = sees & ((q_slot - k_slot) < window);
    auto m = (valid.narrow(1, 0, past + step).view({B, 1, 1, past + step}) & sees) | (k_slot == q_slot);
    return m.to(device_);
  };
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(opts.seed);
  std::vector<bool> done(B, false);

  at::Tensor step_ids = ids, step_pos = pos;
  for (int64_t produced = 0; produced < opts.max_new_tokens; ++produced) {
    const int64_t step = step_ids.size(1), past = cache->past();
    cache->begin_step(step, step_mask(past, step, 0),
                      layout.any_windowed() ? step_mask(past, step, layout.window) : at::Tensor());
    at::Tensor hidden = forward_rows(step_ids.reshape(-1).to(device_), step_pos.reshape(-1).to(device_), cache);
    cache->end_step();
    at::Tensor last = hidden.view({B, step, -1}).select(1, step - 1);
    at::Tensor next = pick_tokens(output_logits(last).cpu(), opts, gen);
    auto next_acc = next.accessor<int64_t, 1>();
    bool all_done = true;
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) {
        next_acc[b] = opts.pad_token_id;
        continue;
      }
      out[b].push_back(next_acc[b]);
      if (std::find(eos.begin(), eos.end(), next_acc[b]) != eos.end()) done[b] = true;
      all_done = all_done && done[b];
    }
    if (all_done) break;
    // The new token takes the next cache slot. Each row sees only its own slots, so the padding
    // that finished rows keep feeding affects nothing that is returned.
    valid.narrow(1, past + step, 1).fill_(true);
    step_ids = next.view({B, 1});
    step_pos = torch::tensor(next_pos, cpu_i64).view({B, 1});
    for (auto& p : next_pos) ++p;
  }
  return out;
}

// LoRA (core/model/lora/lora.h): the model holds the adapter; each linear layer asks adapt().
void CausalLM::set_lora(std::unique_ptr<LoraAdapter> adapter) {
  drop_compute_weights();
  if (adapter) {
    // Frozen base: no gradient buffers, no optimizer state, and the dtype it was loaded in.
    for (auto& s : slots())
      if (s.tensor->defined()) s.tensor->requires_grad_(false);
  }
  lora_ = std::move(adapter);
}

at::Tensor CausalLM::adapt(const std::string& module, const at::Tensor& x, const at::Tensor& y) const {
  if (!lora_ || !lora_->enabled()) return y;
  const LoraModule* m = lora_->find(module);
  if (!m) return y;
  at::Tensor d = lora_->delta(*m, x);
  return d.scalar_type() == y.scalar_type() ? y + d : (y + d).to(y.scalar_type());
}

}  // namespace rdpo
