// LoRA adapters on a CausalLM's linear layers, in PEFT's format.
//
// A target linear module with weight W [out, in] computes y = x Wᵀ (+ b) + s · B(A(dropout(x))),
// with A [r, in], B [out, r] float32 masters and s = alpha / r (alpha / sqrt(r) with rsLoRA).
// Attaching an adapter freezes every base weight (they stay in the dtype they were loaded in), so
// only A and B get gradients and optimizer state. Fused projections (Phi-3 qkv_proj, gate_up_proj)
// are ordinary linear modules, as in PEFT; GPT-2's Conv1D weights are [in, out] (PEFT's
// fan_in_fan_out), which changes only merging. Switching the adapter off (AdaptersDisabled) gives
// the base model back: the reference pass of preference training.
//
// On disk (PEFT, task CAUSAL_LM): adapter_config.json and adapter_model.safetensors with keys
//   base_model.model.<module>.lora_A.weight   [r, in]
//   base_model.model.<module>.lora_B.weight   [out, r]
// where <module> is the Hugging Face module name, e.g. model.layers.0.self_attn.q_proj.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/model/causal_lm.h"

namespace rdpo {

struct LoraConfig {
  int64_t r = 8;
  double alpha = 8;
  double dropout = 0;
  bool use_rslora = false;
  // Module names or name suffixes ("q_proj" matches model.layers.3.self_attn.q_proj), PEFT's
  // rule; {"all-linear"}: every linear module except the output layer.
  std::vector<std::string> target_modules{"all-linear"};
  // target_modules[0] is a regular expression (a PEFT adapter_config.json with a string
  // target_modules); kept only to be written back as it was read.
  bool targets_are_pattern = false;
  uint64_t seed = 0;  // initialisation of A
};

struct LoraModule {
  std::string name;  // Hugging Face module name (the base weight is name + ".weight")
  at::Tensor a, b;   // float32 masters [r, in] and [out, r], on the model's device
  double scaling = 1;
  bool fan_in_fan_out = false;  // the base weight is stored [in, out] (GPT-2 Conv1D)
};

class LoraAdapter {
 public:
  // A fresh adapter on `model`'s target modules (PEFT's default init: A kaiming-uniform as
  // nn.Linear, so U(-1/sqrt(in), 1/sqrt(in)); B zeros), attached to the model.
  static LoraAdapter& attach(CausalLM& model, const LoraConfig& config);
  // Reads a PEFT adapter directory (adapter_config.json, adapter_model.safetensors) and attaches it.
  static LoraAdapter& attach_from(CausalLM& model, const std::string& dir);
  // Adds s · B A to each target's base weight and detaches the adapter: the model is then a plain
  // model that save() writes for transformers.
  static void merge_into(CausalLM& model);

  // Writes dir/adapter_config.json and dir/adapter_model.safetensors (float32) as PEFT does.
  void save(const std::string& dir, const std::string& base_model_name_or_path) const;

  // PEFT key names and the live A/B tensors (the trainable parameters).
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  int64_t num_parameters() const;
  // The module's adapter, or nullptr.
  const LoraModule* find(const std::string& module) const;
  // A and B of every module whose name starts with `prefix` (one layer's, for checkpointing).
  std::vector<at::Tensor> params_under(const std::string& prefix) const;
  // s · B(A(dropout(x))) in the dtype autocast (or x) computes in; dropout only in training
  // (LoraTraining), which is not grad mode: a checkpointed layer's forward runs without grad.
  at::Tensor delta(const LoraModule& m, const at::Tensor& x) const;

  const LoraConfig& config() const { return config_; }
  bool enabled() const { return enabled_; }
  const std::vector<LoraModule>& modules() const { return modules_; }

 private:
  friend class AdaptersDisabled;
  friend class LoraTraining;
  LoraConfig config_;
  std::vector<LoraModule> modules_;
  std::map<std::string, size_t> index_;
  bool enabled_ = true;
  bool training_ = false;
};

// While alive, the model's adapter (if any) is in training mode: its dropout is active.
class LoraTraining {
 public:
  explicit LoraTraining(CausalLM& model);
  ~LoraTraining();
  LoraTraining(const LoraTraining&) = delete;
  LoraTraining& operator=(const LoraTraining&) = delete;

 private:
  LoraAdapter* adapter_;
  bool was_training_ = false;
};

// While alive, the model computes without its adapter (the base model), if it has one.
class AdaptersDisabled {
 public:
  explicit AdaptersDisabled(CausalLM& model);
  ~AdaptersDisabled();
  AdaptersDisabled(const AdaptersDisabled&) = delete;
  AdaptersDisabled& operator=(const AdaptersDisabled&) = delete;

 private:
  LoraAdapter* adapter_;
  bool was_enabled_ = false;
};

}  // namespace rdpo
