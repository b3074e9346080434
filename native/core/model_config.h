// A Hugging Face config.json, reduced to what the native models need. Both spellings of the
// rotary settings load: the long-standing `rope_theta` + `rope_scaling` and transformers 5's
// `rope_parameters: {rope_type, rope_theta, factor, ...}`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"

namespace rdpo {

enum class Architecture { Llama, Gpt2 };  // llama, mistral and qwen2 share the Llama block

struct RopeConfig {
  std::string type = "default";  // default | linear | llama3
  double theta = 10000.0;
  double factor = 1.0;
  // llama3 only
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type;  // llama | mistral | qwen2 | gpt2
  Architecture arch = Architecture::Llama;

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double norm_eps = 1e-5;  // rms_norm_eps (Llama family) or layer_norm_epsilon (GPT-2)
  std::string hidden_act = "silu";
  bool tie_word_embeddings = false;
  bool attention_bias = false;     // bias on q/k/v/o (Llama); Qwen2 always has q/k/v bias
  bool qkv_bias = false;           // q/k/v bias (attention_bias for Llama, always for Qwen2)
  bool o_bias = false;             // o_proj bias
  bool mlp_bias = false;
  int64_t sliding_window = 0;      // 0 = none (Mistral may set one)
  RopeConfig rope;

  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;

  json::Value raw;  // the file as loaded, rewritten on save
  std::string source;  // the file it came from, for messages
};

// The supported model_type values, comma-separated (for messages).
std::string supported_model_types();

ModelConfig parse_model_config(const json::Value& config, const std::string& source);
ModelConfig load_model_config(const std::string& dir);  // dir/config.json

}  // namespace rdpo
