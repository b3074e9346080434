// A Hugging Face config.json, reduced to what the native models need. Both spellings of the
// rotary settings load: the long-standing `rope_theta` + `rope_scaling` and transformers 5's
// `rope_parameters: {rope_type, rope_theta, factor, ...}`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/io/json.h"

namespace rdpo {

// llama, mistral, qwen2, qwen3 and phi3 share the Llama block; gemma2 and gemma3_text the Gemma block.
enum class Architecture { Llama, Gpt2, Gemma };

struct RopeConfig {
  std::string type = "default";  // default | linear | llama3 | longrope
  double theta = 10000.0;
  double factor = 1.0;
  double partial_rotary_factor = 1.0;  // Phi-3/Phi-4-mini: only the first head_dim * factor dims rotate
  // llama3 only
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;  // llama3, longrope
  // longrope only (Phi-3.5, Phi-4-mini): per-frequency divisors for sequences up to / beyond
  // original_max_position_embeddings, and the factor cos and sin are multiplied by.
  std::vector<double> short_factor, long_factor;
  double attention_factor = 1.0;
};

struct ModelConfig {
  std::string model_type;  // llama | mistral | qwen2 | qwen3 | phi3 | gemma2 | gemma3_text | gpt2
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
  bool attention_bias = false;  // bias on q/k/v/o (Llama); Qwen2 always has q/k/v bias
  bool qkv_bias = false;        // q/k/v bias (attention_bias for Llama, always for Qwen2)
  bool o_bias = false;          // o_proj bias
  bool mlp_bias = false;
  int64_t sliding_window = 0;  // 0 = none (Mistral may set one)
  RopeConfig rope;

  // Later architectures (Qwen3, Phi-3, Gemma 2/3). The defaults describe the Llama block.
  bool qk_norm = false;    // RMSNorm over each head of q and k before rotation (Qwen3, Gemma 3)
  bool fused_qkv = false;  // one qkv_proj and one gate_up_proj (Phi-3)
  // Per layer: does it use sliding_window? Empty: every layer does when sliding_window > 0.
  std::vector<bool> sliding_layers;
  RopeConfig rope_local;     // rotary settings of sliding layers (Gemma 3); else equal to rope
  double attn_scale = 0;     // softmax scale; 0 = 1/sqrt(head_dim) (Gemma: query_pre_attn_scalar^-1/2)
  double attn_softcap = 0;   // 0 = none; else scores = cap * tanh(scores / cap) (Gemma 2)
  double final_softcap = 0;  // 0 = none; the same on the output logits (Gemma 2)

  // The window of layer l: sliding_window, or 0 when that layer attends globally.
  int64_t layer_window(int64_t l) const {
    if (sliding_window <= 0) return 0;
    return sliding_layers.empty() || sliding_layers.at(static_cast<size_t>(l)) ? sliding_window : 0;
  }

  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;

  json::Value raw;     // the file as loaded, rewritten on save
  std::string source;  // the file it came from, for messages
};

// The supported model_type values, comma-separated (for messages).
std::string supported_model_types();

ModelConfig parse_model_config(const json::Value& config, const std::string& source);
ModelConfig load_model_config(const std::string& dir);  // dir/config.json

}  // namespace rdpo
