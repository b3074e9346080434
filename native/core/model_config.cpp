#include "core/model_config.h"

#include "core/errors.h"

namespace rdpo {
namespace {

// Reads keys from one config object, naming the file and the key in every error.
struct Reader {
  const json::Value& obj;
  const std::string& source;

  const json::Value* get(const std::string& key) const {
    const json::Value* v = obj.find(key);
    return v && !v->is_null() ? v : nullptr;
  }
  std::string what(const std::string& key) const { return source + ": '" + key + "'"; }
  [[noreturn]] void missing(const std::string& key) const {
    throw ArgumentError(source + ": missing required key '" + key + "'");
  }
  int64_t required_int(const std::string& key) const {
    const json::Value* v = get(key);
    if (!v) missing(key);
    return v->as_int(what(key));
  }
  int64_t opt_int(const std::string& key, int64_t fallback) const {
    const json::Value* v = get(key);
    return v ? v->as_int(what(key)) : fallback;
  }
  double opt_number(const std::string& key, double fallback) const {
    const json::Value* v = get(key);
    return v ? v->as_number(what(key)) : fallback;
  }
  bool opt_bool(const std::string& key, bool fallback) const {
    const json::Value* v = get(key);
    return v ? v->as_bool(what(key)) : fallback;
  }
  std::string opt_string(const std::string& key, const std::string& fallback) const {
    const json::Value* v = get(key);
    return v ? v->as_string(what(key)) : fallback;
  }
  // eos_token_id may be one id or a list of ids.
  std::vector<int64_t> opt_ids(const std::string& key) const {
    const json::Value* v = get(key);
    if (!v) return {};
    if (v->is_array()) {
      std::vector<int64_t> ids;
      for (const auto& x : v->as_array()) ids.push_back(x.as_int(what(key) + " entry"));
      return ids;
    }
    return {v->as_int(what(key))};
  }
  void positive(const std::string& key, int64_t value) const {
    if (value <= 0) throw RangeError(what(key) + " must be positive, got " + std::to_string(value));
  }
};

// rope_parameters (transformers 5) or rope_theta + rope_scaling (earlier): same fields either way.
RopeConfig parse_rope(const Reader& cfg) {
  RopeConfig rope;
  const json::Value* params = cfg.get("rope_parameters");
  const json::Value* scaling = cfg.get("rope_scaling");
  std::string section = params ? "rope_parameters" : "rope_scaling";
  rope.theta = cfg.opt_number("rope_theta", 10000.0);
  const json::Value* s = params ? params : scaling;
  if (!s) return rope;
  Reader r{*s, cfg.source};
  auto key = [&](const std::string& k) { return section + "." + k; };
  if (params) rope.theta = r.get("rope_theta") ? r.get("rope_theta")->as_number(cfg.what(key("rope_theta"))) : rope.theta;
  // Older files spell the kind `type`, newer ones `rope_type`.
  const json::Value* kind = r.get("rope_type") ? r.get("rope_type") : r.get("type");
  rope.type = kind ? kind->as_string(cfg.what(key("rope_type"))) : "default";
  if (rope.type == "default") return rope;
  if (rope.type != "linear" && rope.type != "llama3")
    throw ArgumentError(cfg.source + ": " + section + " type '" + rope.type +
                        "' is not supported (supported: default, linear, llama3)");
  const json::Value* factor = r.get("factor");
  if (!factor) throw ArgumentError(cfg.source + ": missing required key '" + key("factor") + "'");
  rope.factor = factor->as_number(cfg.what(key("factor")));
  if (rope.type == "llama3") {
    for (const char* k : {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      if (!r.get(k)) throw ArgumentError(cfg.source + ": missing required key '" + key(k) + "' for llama3 rope scaling");
    rope.low_freq_factor = r.get("low_freq_factor")->as_number(cfg.what(key("low_freq_factor")));
    rope.high_freq_factor = r.get("high_freq_factor")->as_number(cfg.what(key("high_freq_factor")));
    rope.original_max_position_embeddings =
        r.get("original_max_position_embeddings")->as_int(cfg.what(key("original_max_position_embeddings")));
  }
  return rope;
}

void parse_llama_family(const Reader& cfg, ModelConfig& c) {
  c.arch = Architecture::Llama;
  c.vocab_size = cfg.required_int("vocab_size");
  c.hidden_size = cfg.required_int("hidden_size");
  c.intermediate_size = cfg.required_int("intermediate_size");
  c.num_layers = cfg.required_int("num_hidden_layers");
  c.num_heads = cfg.required_int("num_attention_heads");
  for (const char* k : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"})
    cfg.positive(k, cfg.required_int(k));
  c.num_kv_heads = cfg.opt_int("num_key_value_heads", c.num_heads);
  cfg.positive("num_key_value_heads", c.num_kv_heads);
  if (c.num_heads % c.num_kv_heads != 0)
    throw RangeError(cfg.source + ": num_attention_heads (" + std::to_string(c.num_heads) +
                     ") must be a multiple of num_key_value_heads (" + std::to_string(c.num_kv_heads) + ")");
  if (cfg.get("head_dim")) {
    c.head_dim = cfg.required_int("head_dim");
  } else {
    if (c.hidden_size % c.num_heads != 0)
      throw RangeError(cfg.source + ": hidden_size must be a multiple of num_attention_heads when head_dim is not given");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  cfg.positive("head_dim", c.head_dim);
  if (c.head_dim % 2 != 0) throw RangeError(cfg.what("head_dim") + " must be even for rotary embeddings");
  c.max_position_embeddings = cfg.opt_int("max_position_embeddings", 2048);
  c.norm_eps = cfg.opt_number("rms_norm_eps", 1e-6);
  c.hidden_act = cfg.opt_string("hidden_act", "silu");
  if (c.hidden_act != "silu")
    throw ArgumentError(cfg.source + ": hidden_act '" + c.hidden_act + "' is not supported (supported: silu)");
  c.tie_word_embeddings = cfg.opt_bool("tie_word_embeddings", false);
  c.rope = parse_rope(cfg);

  if (c.model_type == "qwen2") {
    c.qkv_bias = true;  // Qwen2 always has q/k/v biases and no o_proj bias
    c.o_bias = false;
    c.mlp_bias = false;
    if (cfg.opt_bool("use_sliding_window", false))
      throw ArgumentError(cfg.source + ": use_sliding_window=true is not supported for qwen2");
  } else if (c.model_type == "mistral") {
    c.sliding_window = cfg.opt_int("sliding_window", 0);
  } else {
    c.attention_bias = cfg.opt_bool("attention_bias", false);
    c.qkv_bias = c.o_bias = c.attention_bias;
    c.mlp_bias = cfg.opt_bool("mlp_bias", false);
  }
}

void parse_gpt2(const Reader& cfg, ModelConfig& c) {
  c.arch = Architecture::Gpt2;
  c.vocab_size = cfg.required_int("vocab_size");
  c.hidden_size = cfg.required_int("n_embd");
  c.num_layers = cfg.required_int("n_layer");
  c.num_heads = cfg.required_int("n_head");
  c.max_position_embeddings = cfg.required_int("n_positions");
  for (const char* k : {"vocab_size", "n_embd", "n_layer", "n_head", "n_positions"}) cfg.positive(k, cfg.required_int(k));
  if (c.hidden_size % c.num_heads != 0) throw RangeError(cfg.source + ": n_embd must be a multiple of n_head");
  c.num_kv_heads = c.num_heads;
  c.head_dim = c.hidden_size / c.num_heads;
  c.intermediate_size = cfg.opt_int("n_inner", 4 * c.hidden_size);
  c.norm_eps = cfg.opt_number("layer_norm_epsilon", 1e-5);
  c.hidden_act = cfg.opt_string("activation_function", "gelu_new");
  if (c.hidden_act != "gelu_new" && c.hidden_act != "gelu_pytorch_tanh")
    throw ArgumentError(cfg.source + ": activation_function '" + c.hidden_act +
                        "' is not supported (supported: gelu_new, gelu_pytorch_tanh)");
  c.tie_word_embeddings = cfg.opt_bool("tie_word_embeddings", true);
  if (!cfg.opt_bool("scale_attn_weights", true) || cfg.opt_bool("scale_attn_by_inverse_layer_idx", false) ||
      cfg.opt_bool("reorder_and_upcast_attn", false))
    throw ArgumentError(cfg.source + ": GPT-2 attention variants (scale_attn_weights=false, "
                        "scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn) are not supported");
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
}

}  // namespace

std::string supported_model_types() { return "llama, mistral, qwen2, gpt2"; }

ModelConfig parse_model_config(const json::Value& config, const std::string& source) {
  if (!config.is_object()) throw ArgumentError(source + ": config must be a JSON object");
  Reader cfg{config, source};
  ModelConfig c;
  c.raw = config;
  c.source = source;
  const json::Value* mt = cfg.get("model_type");
  if (!mt) throw ArgumentError(source + ": missing required key 'model_type' (supported: " + supported_model_types() + ")");
  c.model_type = mt->as_string(cfg.what("model_type"));
  if (c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2")
    parse_llama_family(cfg, c);
  else if (c.model_type == "gpt2")
    parse_gpt2(cfg, c);
  else
    throw ArgumentError(source + ": model_type '" + c.model_type + "' is not supported (supported: " +
                        supported_model_types() + ")");
  c.bos_token_id = cfg.opt_int("bos_token_id", -1);
  c.eos_token_ids = cfg.opt_ids("eos_token_id");
  c.pad_token_id = cfg.opt_int("pad_token_id", -1);
  return c;
}

ModelConfig load_model_config(const std::string& dir) {
  const std::string path = dir + "/config.json";
  return parse_model_config(json::parse_file(path), path);
}

}  // namespace rdpo
