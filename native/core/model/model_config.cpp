#include "core/model/model_config.h"

#include <cmath>

#include "core/base/errors.h"

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

std::vector<double> number_list(const Reader& cfg, const json::Value* v, const std::string& key) {
  if (!v) throw ArgumentError(cfg.source + ": missing required key '" + key + "' for longrope");
  if (!v->is_array()) throw ArgumentError(cfg.what(key) + " must be a list of numbers");
  std::vector<double> out;
  for (const auto& x : v->as_array()) out.push_back(x.as_number(cfg.what(key) + " entry"));
  return out;
}

// LongRoPE as transformers computes it: `factor` defaults to max_position_embeddings /
// original_max_position_embeddings, attention_factor to sqrt(1 + ln(factor) / ln(original)).
RopeConfig parse_longrope(const Reader& cfg, const Reader& r, const std::string& section, RopeConfig rope) {
  auto key = [&](const std::string& k) { return section + "." + k; };
  rope.short_factor = number_list(cfg, r.get("short_factor"), key("short_factor"));
  rope.long_factor = number_list(cfg, r.get("long_factor"), key("long_factor"));
  const int64_t max_pos = cfg.opt_int("max_position_embeddings", 2048);
  rope.original_max_position_embeddings =
      r.get("original_max_position_embeddings")
          ? r.get("original_max_position_embeddings")->as_int(cfg.what(key("original_max_position_embeddings")))
          : cfg.opt_int("original_max_position_embeddings", max_pos);
  cfg.positive("original_max_position_embeddings", rope.original_max_position_embeddings);
  rope.factor = r.get("factor")
                    ? r.get("factor")->as_number(cfg.what(key("factor")))
                    : static_cast<double>(max_pos) / static_cast<double>(rope.original_max_position_embeddings);
  if (r.get("attention_factor"))
    rope.attention_factor = r.get("attention_factor")->as_number(cfg.what(key("attention_factor")));
  else
    rope.attention_factor =
        rope.factor <= 1.0 ? 1.0
                           : std::sqrt(1 + std::log(rope.factor) /
                                               std::log(static_cast<double>(rope.original_max_position_embeddings)));
  return rope;
}

// The fields of one rotary section (rope_parameters, rope_scaling, or one layer type's entry of
// Gemma 3's rope_parameters), over `rope` as the defaults.
RopeConfig parse_rope_section(const Reader& cfg, const json::Value& s, const std::string& section, RopeConfig rope) {
  Reader r{s, cfg.source};
  auto key = [&](const std::string& k) { return section + "." + k; };
  if (r.get("rope_theta")) rope.theta = r.get("rope_theta")->as_number(cfg.what(key("rope_theta")));
  if (r.get("partial_rotary_factor"))
    rope.partial_rotary_factor = r.get("partial_rotary_factor")->as_number(cfg.what(key("partial_rotary_factor")));
  // Older files spell the kind `type`, newer ones `rope_type`.
  const json::Value* kind = r.get("rope_type") ? r.get("rope_type") : r.get("type");
  rope.type = kind ? kind->as_string(cfg.what(key("rope_type"))) : "default";
  if (rope.type == "default") return rope;
  if (rope.type == "su") rope.type = "longrope";  // the older name transformers also maps
  if (rope.type == "longrope") return parse_longrope(cfg, r, section, rope);
  if (rope.type != "linear" && rope.type != "llama3")
    throw ArgumentError(cfg.source + ": " + section + " type '" + rope.type +
                        "' is not supported (supported: default, linear, llama3, longrope)");
  const json::Value* factor = r.get("factor");
  if (!factor) throw ArgumentError(cfg.source + ": missing required key '" + key("factor") + "'");
  rope.factor = factor->as_number(cfg.what(key("factor")));
  if (rope.type == "llama3") {
    for (const char* k : {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      if (!r.get(k))
        throw ArgumentError(cfg.source + ": missing required key '" + key(k) + "' for llama3 rope scaling");
    rope.low_freq_factor = r.get("low_freq_factor")->as_number(cfg.what(key("low_freq_factor")));
    rope.high_freq_factor = r.get("high_freq_factor")->as_number(cfg.what(key("high_freq_factor")));
    rope.original_max_position_embeddings =
        r.get("original_max_position_embeddings")->as_int(cfg.what(key("original_max_position_embeddings")));
  }
  return rope;
}

// rope_parameters (transformers 5) or rope_theta + rope_scaling (earlier): same fields either way.
RopeConfig parse_rope(const Reader& cfg, double default_theta = 10000.0) {
  RopeConfig rope;
  rope.theta = cfg.opt_number("rope_theta", default_theta);
  rope.partial_rotary_factor = cfg.opt_number("partial_rotary_factor", 1.0);
  const json::Value* params = cfg.get("rope_parameters");
  const json::Value* scaling = cfg.get("rope_scaling");
  const json::Value* s = params ? params : scaling;
  if (!s) return rope;
  // rope_scaling carries no theta; rope_parameters may.
  return parse_rope_section(cfg, *s, params ? "rope_parameters" : "rope_scaling", rope);
}

void check_rotary_dims(const Reader& cfg, const ModelConfig& c) {
  for (const RopeConfig* r : {&c.rope, &c.rope_local}) {
    const double f = r->partial_rotary_factor;
    const int64_t dims = static_cast<int64_t>(static_cast<double>(c.head_dim) * f);
    if (!(f > 0 && f <= 1) || dims % 2 != 0)
      throw RangeError(cfg.source + ": partial_rotary_factor " + std::to_string(f) +
                       " must lie in (0, 1] and give an even "
                       "number of rotated dimensions of head_dim " +
                       std::to_string(c.head_dim));
    if (r->type == "longrope" && (static_cast<int64_t>(r->short_factor.size()) != dims / 2 ||
                                  static_cast<int64_t>(r->long_factor.size()) != dims / 2))
      throw RangeError(cfg.source + ": longrope short_factor and long_factor need " + std::to_string(dims / 2) +
                       " entries each (half the rotated dimensions), got " + std::to_string(r->short_factor.size()) +
                       " and " + std::to_string(r->long_factor.size()));
  }
}

// layer_types ("sliding_attention" / "full_attention" per layer), as transformers 5 writes it.
std::vector<bool> parse_layer_types(const Reader& cfg, int64_t layers) {
  std::vector<bool> sliding;
  const json::Value* v = cfg.get("layer_types");
  if (!v) return sliding;
  if (!v->is_array() || static_cast<int64_t>(v->as_array().size()) != layers)
    throw RangeError(cfg.what("layer_types") + " must list one entry per layer (" + std::to_string(layers) + ")");
  for (const auto& t : v->as_array()) {
    const std::string kind = t.as_string(cfg.what("layer_types") + " entry");
    if (kind != "sliding_attention" && kind != "full_attention")
      throw ArgumentError(cfg.what("layer_types") + " entry '" + kind +
                          "' is not supported (supported: sliding_attention, full_attention)");
    sliding.push_back(kind == "sliding_attention");
  }
  return sliding;
}

// A number that defaults to `fallback` when the key is absent but means "off" (0) when it is null.
double nullable_number(const Reader& cfg, const std::string& key, double fallback) {
  const json::Value* v = cfg.obj.find(key);
  if (!v) return fallback;
  return v->is_null() ? 0.0 : v->as_number(cfg.what(key));
}

// The decoder's sizes and attention heads, shared by the Llama and Gemma families (same keys).
void parse_decoder_shape(const Reader& cfg, ModelConfig& c) {
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
}

void parse_llama_family(const Reader& cfg, ModelConfig& c) {
  c.arch = Architecture::Llama;
  parse_decoder_shape(cfg, c);
  if (cfg.get("head_dim")) {
    c.head_dim = cfg.required_int("head_dim");
  } else if (c.model_type == "qwen3") {
    c.head_dim = 128;  // Qwen3Config's default, independent of hidden_size / heads
  } else {
    if (c.hidden_size % c.num_heads != 0)
      throw RangeError(cfg.source +
                       ": hidden_size must be a multiple of num_attention_heads when head_dim is not given");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  cfg.positive("head_dim", c.head_dim);
  if (c.head_dim % 2 != 0) throw RangeError(cfg.what("head_dim") + " must be even for rotary embeddings");
  c.max_position_embeddings = cfg.opt_int("max_position_embeddings", 2048);
  c.rope = c.rope_local = parse_rope(cfg);
  check_rotary_dims(cfg, c);
  c.norm_eps = cfg.opt_number("rms_norm_eps", 1e-6);
  c.hidden_act = cfg.opt_string("hidden_act", "silu");
  if (c.hidden_act != "silu")
    throw ArgumentError(cfg.source + ": hidden_act '" + c.hidden_act + "' is not supported (supported: silu)");
  c.tie_word_embeddings = cfg.opt_bool("tie_word_embeddings", false);

  if (c.model_type == "qwen2") {
    c.qkv_bias = true;  // Qwen2 always has q/k/v biases and no o_proj bias
    c.o_bias = false;
    c.mlp_bias = false;
    if (cfg.opt_bool("use_sliding_window", false))
      throw ArgumentError(cfg.source + ": use_sliding_window=true is not supported for qwen2");
  } else if (c.model_type == "mistral") {
    c.sliding_window = cfg.opt_int("sliding_window", 0);
  } else if (c.model_type == "qwen3") {
    c.qk_norm = true;
    c.attention_bias = cfg.opt_bool("attention_bias", false);
    c.qkv_bias = c.o_bias = c.attention_bias;
    if (cfg.opt_bool("use_sliding_window", false))
      throw ArgumentError(cfg.source + ": use_sliding_window=true is not supported for qwen3");
  } else if (c.model_type == "phi3") {
    c.fused_qkv = true;  // qkv_proj and gate_up_proj, no biases
    c.sliding_window = cfg.opt_int("sliding_window", 0);
  } else {
    c.attention_bias = cfg.opt_bool("attention_bias", false);
    c.qkv_bias = c.o_bias = c.attention_bias;
    c.mlp_bias = cfg.opt_bool("mlp_bias", false);
  }
}

// Gemma 2 and Gemma 3 (text). Keys and defaults as transformers' Gemma2Config / Gemma3TextConfig.
void parse_gemma(const Reader& cfg, ModelConfig& c) {
  const bool g3 = c.model_type == "gemma3_text";
  c.arch = Architecture::Gemma;
  parse_decoder_shape(cfg, c);
  c.head_dim = cfg.opt_int("head_dim", 256);
  cfg.positive("head_dim", c.head_dim);
  c.max_position_embeddings = cfg.opt_int("max_position_embeddings", g3 ? 131072 : 8192);
  c.norm_eps = cfg.opt_number("rms_norm_eps", 1e-6);
  c.hidden_act = cfg.opt_string("hidden_activation", cfg.opt_string("hidden_act", "gelu_pytorch_tanh"));
  if (c.hidden_act != "gelu_pytorch_tanh")
    throw ArgumentError(cfg.source + ": hidden_activation '" + c.hidden_act +
                        "' is not supported (supported: gelu_pytorch_tanh)");
  c.tie_word_embeddings = cfg.opt_bool("tie_word_embeddings", true);
  c.attention_bias = cfg.opt_bool("attention_bias", false);
  c.qkv_bias = c.o_bias = c.attention_bias;
  const double scalar = cfg.opt_number("query_pre_attn_scalar", 256);
  if (!(scalar > 0)) throw RangeError(cfg.what("query_pre_attn_scalar") + " must be positive");
  c.attn_scale = 1.0 / std::sqrt(scalar);
  c.attn_softcap = nullable_number(cfg, "attn_logit_softcapping", g3 ? 0.0 : 50.0);
  c.final_softcap = nullable_number(cfg, "final_logit_softcapping", g3 ? 0.0 : 30.0);
  c.sliding_window = static_cast<int64_t>(nullable_number(cfg, "sliding_window", 4096));
  if (cfg.opt_bool("use_bidirectional_attention", false))
    throw ArgumentError(cfg.source + ": use_bidirectional_attention=true (an encoder) is not supported");
  c.sliding_layers = parse_layer_types(cfg, c.num_layers);
  if (c.sliding_layers.empty()) {
    // Before layer_types: Gemma 2 alternates sliding/global; Gemma 3 has one global layer in every
    // sliding_window_pattern layers.
    const int64_t pattern = g3 ? cfg.opt_int("sliding_window_pattern", 6) : 2;
    cfg.positive("sliding_window_pattern", pattern);
    for (int64_t l = 0; l < c.num_layers; ++l) c.sliding_layers.push_back((l + 1) % pattern != 0);
  }
  if (!g3) {
    c.rope = c.rope_local = parse_rope(cfg);
  } else {
    c.qk_norm = true;
    const json::Value* params = cfg.get("rope_parameters");
    if (params && (params->find("full_attention") || params->find("sliding_attention"))) {
      // transformers 5: one rotary section per layer type.
      RopeConfig global;
      global.theta = 1000000.0;
      RopeConfig local;
      if (const json::Value* f = params->find("full_attention"); f && !f->is_null())
        global = parse_rope_section(cfg, *f, "rope_parameters.full_attention", global);
      if (const json::Value* s = params->find("sliding_attention"); s && !s->is_null())
        local = parse_rope_section(cfg, *s, "rope_parameters.sliding_attention", local);
      c.rope = global;
      c.rope_local = local;
    } else {
      // Older form: rope_theta (+ rope_scaling) for global layers, rope_local_base_freq for sliding ones.
      c.rope = parse_rope(cfg, 1000000.0);
      c.rope_local = RopeConfig{};
      c.rope_local.theta = cfg.opt_number("rope_local_base_freq", 10000.0);
    }
  }
  check_rotary_dims(cfg, c);
  if (c.head_dim % 2 != 0) throw RangeError(cfg.what("head_dim") + " must be even for rotary embeddings");
}

void parse_gpt2(const Reader& cfg, ModelConfig& c) {
  c.arch = Architecture::Gpt2;
  c.vocab_size = cfg.required_int("vocab_size");
  c.hidden_size = cfg.required_int("n_embd");
  c.num_layers = cfg.required_int("n_layer");
  c.num_heads = cfg.required_int("n_head");
  c.max_position_embeddings = cfg.required_int("n_positions");
  for (const char* k : {"vocab_size", "n_embd", "n_layer", "n_head", "n_positions"})
    cfg.positive(k, cfg.required_int(k));
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
    throw ArgumentError(cfg.source +
                        ": GPT-2 attention variants (scale_attn_weights=false, "
                        "scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn) are not supported");
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
}

}  // namespace

std::string supported_model_types() { return "llama, mistral, qwen2, qwen3, phi3, gemma2, gemma3_text, gpt2"; }

ModelConfig parse_model_config(const json::Value& config, const std::string& source) {
  if (!config.is_object()) throw ArgumentError(source + ": config must be a JSON object");
  Reader cfg{config, source};
  ModelConfig c;
  c.raw = config;
  c.source = source;
  const json::Value* mt = cfg.get("model_type");
  if (!mt)
    throw ArgumentError(source + ": missing required key 'model_type' (supported: " + supported_model_types() + ")");
  c.model_type = mt->as_string(cfg.what("model_type"));
  if (c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2" || c.model_type == "qwen3" ||
      c.model_type == "phi3")
    parse_llama_family(cfg, c);
  else if (c.model_type == "gemma2" || c.model_type == "gemma3_text")
    parse_gemma(cfg, c);
  else if (c.model_type == "gpt2")
    parse_gpt2(cfg, c);
  else if (c.model_type == "gemma3")
    throw ArgumentError(
        source +
        ": model_type 'gemma3' is the multimodal Gemma 3 (Gemma3ForConditionalGeneration), which is "
        "not supported; text-only Gemma 3 checkpoints (model_type gemma3_text, Gemma3ForCausalLM: 270m, 1b) are");
  else
    throw ArgumentError(source + ": model_type '" + c.model_type +
                        "' is not supported (supported: " + supported_model_types() + ")");
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
