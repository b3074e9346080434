#include "core/model/lora/lora.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/base/errors.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"

namespace rdpo {
namespace {

const std::string kPrefix = "base_model.model.";  // PEFT's prefix for a CAUSAL_LM task
const std::string kA = ".lora_A.weight", kB = ".lora_B.weight";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string last_component(const std::string& name) {
  auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

double scaling_for(double alpha, int64_t r, bool rslora) {
  return rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
}

// PEFT's rank_pattern/alpha_pattern keys match a module name when the name ends with them at a
// component boundary (a regular expression: "(.*\.)?(KEY)$").
const json::Value* pattern_value(const json::Value* patterns, const std::string& module) {
  if (!patterns || !patterns->is_object()) return nullptr;
  for (const auto& [key, value] : patterns->as_object()) {
    try {
      if (std::regex_match(module, std::regex("(.*\\.)?(" + key + ")"))) return &value;
    } catch (const std::regex_error&) {
      if (module == key || ends_with(module, "." + key)) return &value;
    }
  }
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------- the model side

namespace {

struct LinearModule {
  std::string name;
  at::Tensor* weight;
  int64_t in, out;
  bool fan_in_fan_out;
};

// Every linear module of the model: the 2-D weights other than the embeddings and the output
// layer (PEFT's "all-linear" leaves the LM head out too).
// (A template: the slots' type is CausalLM's, reachable only from its friends.)
template <typename Slots>
std::vector<LinearModule> linear_modules(Slots slots, Architecture arch) {
  std::vector<LinearModule> out;
  const bool conv1d = arch == Architecture::Gpt2;
  for (auto& s : slots) {
    if (s.shape.size() != 2 || !ends_with(s.name, ".weight")) continue;
    const std::string module = s.name.substr(0, s.name.size() - 7);
    const std::string last = last_component(module);
    if (last == "embed_tokens" || last == "wte" || last == "wpe" || last == "lm_head") continue;
    out.push_back({module, s.tensor, conv1d ? s.shape[0] : s.shape[1], conv1d ? s.shape[1] : s.shape[0], conv1d});
  }
  return out;
}

}  // namespace

LoraAdapter& LoraAdapter::attach(CausalLM& model, const LoraConfig& config) {
  if (config.r <= 0) throw RangeError("LoRA rank r must be positive, got " + std::to_string(config.r));
  if (!(config.dropout >= 0 && config.dropout < 1))
    throw RangeError("LoRA dropout must be in [0, 1), got " + std::to_string(config.dropout));
  if (config.target_modules.empty()) throw ArgumentError("LoRA target modules: the list is empty");
  auto linears = linear_modules(model.slots(), model.config().arch);
  const bool all = config.target_modules.size() == 1 && config.target_modules[0] == "all-linear";
  std::set<std::string> matched_targets;
  auto adapter = std::make_unique<LoraAdapter>();
  adapter->config_ = config;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(config.seed);
  for (const auto& lin : linears) {
    bool hit = all;
    for (const auto& t : config.target_modules)
      if (!all && (lin.name == t || ends_with(lin.name, "." + t))) {
        hit = true;
        matched_targets.insert(t);
      }
    if (!hit) continue;
    LoraModule m;
    m.name = lin.name;
    // nn.Linear's default init (kaiming-uniform with a = sqrt(5)) is U(-1/sqrt(in), 1/sqrt(in)).
    const double bound = 1.0 / std::sqrt(static_cast<double>(lin.in));
    m.a = torch::empty({config.r, lin.in}, torch::kFloat32).uniform_(-bound, bound, gen).to(model.device());
    m.b = torch::zeros({lin.out, config.r}, torch::TensorOptions().dtype(torch::kFloat32).device(model.device()));
    m.a.requires_grad_(true);
    m.b.requires_grad_(true);
    m.scaling = scaling_for(config.alpha, config.r, config.use_rslora);
    m.fan_in_fan_out = lin.fan_in_fan_out;
    adapter->index_[m.name] = adapter->modules_.size();
    adapter->modules_.push_back(std::move(m));
  }
  if (!all) {
    std::vector<std::string> missing;
    for (const auto& t : config.target_modules)
      if (!matched_targets.count(t)) missing.push_back(t);
    if (!missing.empty()) {
      std::set<std::string> names;
      for (const auto& lin : linears) names.insert(last_component(lin.name));
      std::string have, miss;
      for (const auto& n : names) have += (have.empty() ? "" : ",") + n;
      for (const auto& n : missing) miss += (miss.empty() ? "" : ",") + n;
      throw ArgumentError("LoRA targets " + miss + " match no linear module of this " + model.config().model_type +
                          " model; its linear modules are " + have + " (or use all-linear)");
    }
  }
  if (adapter->modules_.empty()) throw ArgumentError("LoRA: the model has no linear modules to adapt");
  model.set_lora(std::move(adapter));
  return *model.lora();
}

LoraAdapter& LoraAdapter::attach_from(CausalLM& model, const std::string& dir) {
  const std::string config_file = dir + "/adapter_config.json";
  const std::string weights_file = dir + "/adapter_model.safetensors";
  if (!std::filesystem::exists(config_file))
    throw ArgumentError(dir + " is not a LoRA adapter directory: adapter_config.json is missing");
  if (!std::filesystem::exists(weights_file))
    throw ArgumentError(dir +
                        ": adapter_model.safetensors is missing (adapters saved as adapter_model.bin are not "
                        "read; save with safe_serialization=True)");
  json::Value c = json::parse_file(config_file);
  auto str = [&](const char* key, const std::string& dflt) {
    const json::Value* v = c.find(key);
    return v && v->is_string() ? v->as_string() : dflt;
  };
  auto flag = [&](const char* key) {
    const json::Value* v = c.find(key);
    return v && v->is_bool() && v->as_bool();
  };
  auto nonempty = [&](const char* key) {
    const json::Value* v = c.find(key);
    if (!v || v->is_null()) return false;
    if (v->is_array()) return !v->as_array().empty();
    if (v->is_object()) return !v->as_object().empty();
    return true;
  };
  auto unsupported = [&](const std::string& what) {
    return ArgumentError(config_file + ": " + what +
                         " is not supported by rdpo-native's LoRA (plain LoRA/rsLoRA only); "
                         "merge the adapter in peft (merge_and_unload) and load the merged model instead");
  };
  const std::string type = str("peft_type", "LORA");
  if (type != "LORA") throw unsupported("peft_type " + type);
  if (flag("use_dora")) throw unsupported("use_dora");
  if (flag("lora_bias")) throw unsupported("lora_bias");
  if (str("bias", "none") != "none") throw unsupported("bias \"" + str("bias", "") + "\"");
  for (const char* key : {"modules_to_save", "trainable_token_indices", "layer_replication"})
    if (nonempty(key)) throw unsupported(key);
  const json::Value* r_v = c.find("r");
  const json::Value* alpha_v = c.find("lora_alpha");
  if (!r_v || !alpha_v) throw ArgumentError(config_file + ": needs \"r\" and \"lora_alpha\"");

  LoraConfig config;
  config.r = r_v->as_int("r");
  config.alpha = alpha_v->as_number("lora_alpha");
  if (const json::Value* d = c.find("lora_dropout"); d && d->is_number()) config.dropout = d->as_number();
  config.use_rslora = flag("use_rslora");
  config.target_modules.clear();
  if (const json::Value* t = c.find("target_modules")) {
    if (t->is_string()) {
      config.target_modules.push_back(t->as_string());
      config.targets_are_pattern = t->as_string() != "all-linear";
    } else if (t->is_array())
      for (const auto& v : t->as_array()) config.target_modules.push_back(v.as_string("target_modules[]"));
  }

  std::map<std::string, at::Tensor> a, b;
  for (auto& [key, t] : read_safetensors(weights_file)) {
    if (key.rfind(kPrefix, 0) != 0)
      throw ArgumentError(weights_file + ": key '" + key + "' does not start with '" + kPrefix +
                          "' (expected a PEFT adapter for a causal LM, task_type CAUSAL_LM)");
    std::string rest = key.substr(kPrefix.size());
    if (ends_with(rest, kA))
      a[rest.substr(0, rest.size() - kA.size())] = t;
    else if (ends_with(rest, kB))
      b[rest.substr(0, rest.size() - kB.size())] = t;
    else
      throw ArgumentError(weights_file + ": key '" + key +
                          "' is not a lora_A/lora_B weight (embedding adapters, "
                          "modules_to_save and DoRA magnitudes are not supported)");
  }
  if (a.empty()) throw ArgumentError(weights_file + ": no lora_A weights");

  auto linears = linear_modules(model.slots(), model.config().arch);
  std::map<std::string, const LinearModule*> by_name;
  for (const auto& l : linears) by_name[l.name] = &l;
  auto adapter = std::make_unique<LoraAdapter>();
  adapter->config_ = config;
  const json::Value* alpha_pattern = c.find("alpha_pattern");
  for (const auto& l : linears) {  // model order, so named_parameters() is stable
    auto ia = a.find(l.name);
    if (ia == a.end()) continue;
    auto ib = b.find(l.name);
    if (ib == b.end()) throw ArgumentError(weights_file + ": '" + kPrefix + l.name + kA + "' has no matching lora_B");
    const at::Tensor& ta = ia->second;
    const at::Tensor& tb = ib->second;
    const int64_t r = ta.dim() == 2 ? ta.size(0) : -1;
    if (ta.dim() != 2 || ta.size(1) != l.in || tb.dim() != 2 || tb.size(0) != l.out || tb.size(1) != r)
      throw ArgumentError(weights_file + ": module '" + l.name + "' has lora_A " + c10::str(ta.sizes()) +
                          " and lora_B " + c10::str(tb.sizes()) + ", but the base weight needs [r, " +
                          std::to_string(l.in) + "] and [" + std::to_string(l.out) +
                          ", r] (is the adapter for another base model?)");
    LoraModule m;
    m.name = l.name;
    m.a = ta.to(model.device(), torch::kFloat32, /*non_blocking=*/false, /*copy=*/true).requires_grad_(true);
    m.b = tb.to(model.device(), torch::kFloat32, false, true).requires_grad_(true);
    const json::Value* alpha = pattern_value(alpha_pattern, l.name);
    m.scaling = scaling_for(alpha ? alpha->as_number("alpha_pattern") : config.alpha, r, config.use_rslora);
    m.fan_in_fan_out = l.fan_in_fan_out;
    adapter->index_[m.name] = adapter->modules_.size();
    adapter->modules_.push_back(std::move(m));
    a.erase(ia);
    b.erase(ib);
  }
  if (!a.empty() || !b.empty()) {
    const std::string& name = !a.empty() ? a.begin()->first : b.begin()->first;
    throw ArgumentError(weights_file + ": module '" + name + "' is not a linear module of this " +
                        model.config().model_type + " model (is the adapter for another base model?)");
  }
  model.set_lora(std::move(adapter));
  return *model.lora();
}

void LoraAdapter::merge_into(CausalLM& model) {
  LoraAdapter* adapter = model.lora();
  if (!adapter) throw ArgumentError("merge: the model has no LoRA adapter attached");
  torch::NoGradGuard no_grad;
  std::map<std::string, at::Tensor*> weights;
  for (auto& s : model.slots()) weights[s.name] = s.tensor;
  for (const auto& m : adapter->modules_) {
    at::Tensor& w = *weights.at(m.name + ".weight");
    at::Tensor delta = at::matmul(m.b.to(torch::kFloat32), m.a.to(torch::kFloat32)) * m.scaling;  // [out, in]
    if (m.fan_in_fan_out) delta = delta.t();
    // A new tensor, not an in-place add: the base may be a view of the mapped checkpoint.
    w = (w.to(torch::kFloat32) + delta.to(w.device())).to(w.scalar_type()).contiguous();
  }
  model.set_lora(nullptr);
  for (auto& s : model.slots())
    if (s.tensor->defined()) s.tensor->requires_grad_(true);  // as load() leaves a model
}

void LoraAdapter::save(const std::string& dir, const std::string& base_model_name_or_path) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw ArgumentError("cannot create directory " + dir + ": " + ec.message());
  write_safetensors(dir + "/adapter_model.safetensors", named_parameters(), torch::kFloat32);

  std::vector<std::string> targets = config_.target_modules;
  if (targets.size() == 1 && targets[0] == "all-linear") {
    // As PEFT records it after expanding "all-linear": the module names (here their last
    // component, which PEFT matches as a suffix).
    std::set<std::string> names;
    for (const auto& m : modules_) names.insert(last_component(m.name));
    targets.assign(names.begin(), names.end());
  }
  json::Value::Array target_list;
  for (const auto& t : targets) target_list.push_back(json::Value::string(t));
  const bool fan_in_fan_out = !modules_.empty() && modules_[0].fan_in_fan_out;
  // Modules whose rank or alpha differ from the adapter-wide ones (an adapter read with PEFT's
  // rank_pattern / alpha_pattern) keep them under their full name.
  json::Value rank_pattern = json::Value::object(), alpha_pattern = json::Value::object();
  for (const auto& m : modules_) {
    const int64_t r = m.a.size(0);
    if (r != config_.r) rank_pattern.set(m.name, json::Value::number(static_cast<double>(r), std::to_string(r)));
    const double module_alpha =
        config_.use_rslora ? m.scaling * std::sqrt(static_cast<double>(r)) : m.scaling * static_cast<double>(r);
    if (std::abs(module_alpha - config_.alpha) > 1e-9 * std::max(1.0, std::abs(config_.alpha)))
      alpha_pattern.set(m.name, json::Value::number(module_alpha));
  }
  std::ostringstream dropout, alpha;
  dropout << config_.dropout;
  alpha << config_.alpha;
  json::Value c = json::Value::object({
      {"alpha_pattern", alpha_pattern},
      {"base_model_name_or_path",
       base_model_name_or_path.empty() ? json::Value() : json::Value::string(base_model_name_or_path)},
      {"bias", json::Value::string("none")},
      {"fan_in_fan_out", json::Value::boolean(fan_in_fan_out)},
      {"inference_mode", json::Value::boolean(true)},
      {"init_lora_weights", json::Value::boolean(true)},
      {"layers_pattern", json::Value()},
      {"layers_to_transform", json::Value()},
      {"lora_alpha", json::Value::number(config_.alpha, std::floor(config_.alpha) == config_.alpha
                                                            ? std::to_string(static_cast<int64_t>(config_.alpha))
                                                            : alpha.str())},
      {"lora_dropout", json::Value::number(config_.dropout, dropout.str().find('.') == std::string::npos &&
                                                                    dropout.str().find('e') == std::string::npos
                                                                ? dropout.str() + ".0"
                                                                : dropout.str())},
      {"modules_to_save", json::Value()},
      {"peft_type", json::Value::string("LORA")},
      {"r", json::Value::number(static_cast<double>(config_.r), std::to_string(config_.r))},
      {"rank_pattern", rank_pattern},
      {"revision", json::Value()},
      {"target_modules",
       config_.targets_are_pattern ? json::Value::string(targets[0]) : json::Value::array(std::move(target_list))},
      {"task_type", json::Value::string("CAUSAL_LM")},
      {"use_dora", json::Value::boolean(false)},
      {"use_rslora", json::Value::boolean(config_.use_rslora)},
  });
  write_file_atomic(dir + "/adapter_config.json", c.dump(2) + "\n");
}

std::vector<std::pair<std::string, at::Tensor>> LoraAdapter::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& m : modules_) {
    out.emplace_back(kPrefix + m.name + kA, m.a);
    out.emplace_back(kPrefix + m.name + kB, m.b);
  }
  return out;
}

int64_t LoraAdapter::num_parameters() const {
  int64_t n = 0;
  for (const auto& m : modules_) n += m.a.numel() + m.b.numel();
  return n;
}

const LoraModule* LoraAdapter::find(const std::string& module) const {
  auto it = index_.find(module);
  return it == index_.end() ? nullptr : &modules_[it->second];
}

std::vector<at::Tensor> LoraAdapter::params_under(const std::string& prefix) const {
  std::vector<at::Tensor> out;
  for (auto it = index_.lower_bound(prefix); it != index_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    out.push_back(modules_[it->second].a);
    out.push_back(modules_[it->second].b);
  }
  return out;
}

at::Tensor LoraAdapter::delta(const LoraModule& m, const at::Tensor& x) const {
  at::Tensor in = x;
  // Without autocast the update is computed in the adapter's float32 (as PEFT casts the input to
  // the adapter's dtype); under autocast, at::linear picks the compute dtype itself.
  if (!at::autocast::is_autocast_enabled(x.device().type()) && in.scalar_type() != m.a.scalar_type())
    in = in.to(m.a.scalar_type());
  // Dropout in training only; a checkpointed layer replays it with the same random state (causal_lm.cpp).
  if (config_.dropout > 0 && training_) in = at::dropout(in, config_.dropout, /*train=*/true);
  return at::linear(at::linear(in, m.a), m.b) * m.scaling;
}

AdaptersDisabled::AdaptersDisabled(CausalLM& model) : adapter_(model.lora()) {
  if (!adapter_) return;
  was_enabled_ = adapter_->enabled_;
  adapter_->enabled_ = false;
}

AdaptersDisabled::~AdaptersDisabled() {
  if (adapter_) adapter_->enabled_ = was_enabled_;
}

LoraTraining::LoraTraining(CausalLM& model) : adapter_(model.lora()) {
  if (!adapter_) return;
  was_training_ = adapter_->training_;
  adapter_->training_ = true;
}

LoraTraining::~LoraTraining() {
  if (adapter_) adapter_->training_ = was_training_;
}

}  // namespace rdpo
