// The Llama block, shared by Llama 2/3, SmolLM2, Mistral, Qwen2, Qwen3 and Phi-3:
//
//   x = embed[tokens]
//   for each layer:
//     h = rms_norm(x) ; q, k, v = h Wq, h Wk, h Wv (+ biases for Qwen2) ; rotate q, k by position
//     x = x + attention(q, k, v) Wo
//     h = rms_norm(x) ; x = x + (silu(h Wgate) * h Wup) Wdown
//   hidden = rms_norm(x) ; logits = hidden Wlm^T
//
// Qwen3 also normalises each head of q and k (rms_norm over head_dim) before rotating them. Phi-3
// stores Wq|Wk|Wv as one qkv_proj and Wgate|Wup as one gate_up_proj; they stay fused here (one
// matmul, then views), so training updates and save writes the layout transformers loads.
//
// Rows are tokens of a packed batch ([N, hidden]); only attention knows about sequences.
#include "core/model/causal_lm.h"
#include "core/model/layers/fused_norm.h"  // rms_norm: as transformers' LlamaRMSNorm, fused where it can be
#include "core/model/layers/rotary.h"
#include "core/runtime/perf_options.h"

namespace rdpo {
namespace {

struct LlamaLayer {
  at::Tensor input_norm;
  at::Tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
  at::Tensor post_norm;
  at::Tensor gate_w, gate_b, up_w, up_b, down_w, down_b;
  at::Tensor q_norm, k_norm;    // Qwen3: [head_dim]
  at::Tensor qkv_w, gate_up_w;  // Phi-3: [q_out + 2 kv_out, H] and [2 I, H]
};

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

// The biases of a fused projection: all of them concatenated, or none (a layer has all or none).
at::Tensor cat_defined(std::initializer_list<at::Tensor> biases) {
  std::vector<at::Tensor> b(biases);
  return b.front().defined() ? at::cat(b) : at::Tensor();
}

class LlamaModel : public CausalLM {
 public:
  LlamaModel(ModelConfig config, c10::ScalarType dtype, c10::Device device)
      : CausalLM(std::move(config), dtype, device), layers_(config_.num_layers) {
    inv_freq_ = rope_inv_freq(config_.rope, rotary_dims(config_.rope, config_.head_dim)).to(device_);
    if (config_.rope.type == "longrope")
      long_inv_freq_ = rope_inv_freq(config_.rope, rotary_dims(config_.rope, config_.head_dim), true).to(device_);
  }

  at::Tensor lm_head_weight() override { return config_.tie_word_embeddings ? embed_ : lm_head_; }

  at::Tensor forward_rows(const at::Tensor& input_ids, const at::Tensor& position_ids,
                          const std::shared_ptr<AttentionKernel>& attention) override {
    const auto rope = rope_cos_sin(rope_frequencies(position_ids), position_ids, dtype_, config_.rope.attention_factor);
    at::Tensor x = embed_.index_select(0, input_ids);  // [N, hidden]
    for (int64_t l = 0; l < config_.num_layers; ++l) {
      // Captures by value: a checkpointed layer runs this again during backward.
      auto block = [this, l, rope, attention](const at::Tensor& in) {
        return layer_forward(layers_[l], l, in, rope.first, rope.second, *attention);
      };
      x = run_layer(block, x, layer_params(layers_[l]), "model.layers." + std::to_string(l) + ".");
    }
    return rms_norm(x, final_norm_, config_.norm_eps);
  }

 protected:
  std::vector<Slot> slots() override {
    const int64_t H = config_.hidden_size, I = config_.intermediate_size, D = config_.head_dim;
    const int64_t q_out = config_.num_heads * D, kv_out = config_.num_kv_heads * D;
    std::vector<Slot> s;
    s.push_back({"model.embed_tokens.weight", &embed_, {config_.vocab_size, H}});
    for (int64_t l = 0; l < config_.num_layers; ++l) {
      LlamaLayer& p = layers_[l];
      const std::string pre = "model.layers." + std::to_string(l) + ".";
      s.push_back({pre + "input_layernorm.weight", &p.input_norm, {H}});
      if (config_.fused_qkv) {
        s.push_back({pre + "self_attn.qkv_proj.weight", &p.qkv_w, {q_out + 2 * kv_out, H}});
        s.push_back({pre + "self_attn.o_proj.weight", &p.o_w, {H, q_out}});
        s.push_back({pre + "post_attention_layernorm.weight", &p.post_norm, {H}});
        s.push_back({pre + "mlp.gate_up_proj.weight", &p.gate_up_w, {2 * I, H}});
        s.push_back({pre + "mlp.down_proj.weight", &p.down_w, {H, I}});
        continue;
      }
      s.push_back({pre + "self_attn.q_proj.weight", &p.q_w, {q_out, H}});
      if (config_.qkv_bias) s.push_back({pre + "self_attn.q_proj.bias", &p.q_b, {q_out}});
      s.push_back({pre + "self_attn.k_proj.weight", &p.k_w, {kv_out, H}});
      if (config_.qkv_bias) s.push_back({pre + "self_attn.k_proj.bias", &p.k_b, {kv_out}});
      s.push_back({pre + "self_attn.v_proj.weight", &p.v_w, {kv_out, H}});
      if (config_.qkv_bias) s.push_back({pre + "self_attn.v_proj.bias", &p.v_b, {kv_out}});
      s.push_back({pre + "self_attn.o_proj.weight", &p.o_w, {H, q_out}});
      if (config_.o_bias) s.push_back({pre + "self_attn.o_proj.bias", &p.o_b, {H}});
      if (config_.qk_norm) {
        s.push_back({pre + "self_attn.q_norm.weight", &p.q_norm, {D}});
        s.push_back({pre + "self_attn.k_norm.weight", &p.k_norm, {D}});
      }
      s.push_back({pre + "post_attention_layernorm.weight", &p.post_norm, {H}});
      s.push_back({pre + "mlp.gate_proj.weight", &p.gate_w, {I, H}});
      if (config_.mlp_bias) s.push_back({pre + "mlp.gate_proj.bias", &p.gate_b, {I}});
      s.push_back({pre + "mlp.up_proj.weight", &p.up_w, {I, H}});
      if (config_.mlp_bias) s.push_back({pre + "mlp.up_proj.bias", &p.up_b, {I}});
      s.push_back({pre + "mlp.down_proj.weight", &p.down_w, {H, I}});
      if (config_.mlp_bias) s.push_back({pre + "mlp.down_proj.bias", &p.down_b, {H}});
    }
    s.push_back({"model.norm.weight", &final_norm_, {H}});
    if (!config_.tie_word_embeddings) s.push_back({"lm_head.weight", &lm_head_, {config_.vocab_size, H}});
    return s;
  }

  bool ignorable(const std::string& name) const override {
    // Old checkpoints stored the rotary table; tied checkpoints sometimes also store lm_head.
    return name.find("rotary_emb.inv_freq") != std::string::npos ||
           (config_.tie_word_embeddings && name == "lm_head.weight");
  }

 private:
  static std::vector<at::Tensor> layer_params(const LlamaLayer& p) {
    std::vector<at::Tensor> out;
    for (const at::Tensor* t : {&p.input_norm, &p.q_w,    &p.q_b,       &p.k_w,    &p.k_b,    &p.v_w,      &p.v_b,
                                &p.o_w,        &p.o_b,    &p.post_norm, &p.gate_w, &p.gate_b, &p.up_w,     &p.up_b,
                                &p.down_w,     &p.down_b, &p.q_norm,    &p.k_norm, &p.qkv_w,  &p.gate_up_w})
      if (t->defined()) out.push_back(*t);
    return out;
  }

  // PerfOptions::fuse_projections, where no LoRA adapter needs the separate module outputs.
  bool fuse_projections() const { return perf_options().fuse_projections && !lora(); }

  at::Tensor layer_forward(const LlamaLayer& p, int64_t layer, const at::Tensor& x, const at::Tensor& cos,
                           const at::Tensor& sin, AttentionKernel& attention) {
    const int64_t N = x.size(0), D = config_.head_dim;
    // Each linear output passes through adapt(): the LoRA update of that module, if it has one.
    const std::string pre = lora() ? "model.layers." + std::to_string(layer) + "." : std::string();
    auto ad = [&](const char* module, const at::Tensor& in, const at::Tensor& out) {
      return lora() ? adapt(pre + module, in, out) : out;
    };
    // Attention
    auto h = rms_norm(x, p.input_norm, config_.norm_eps);
    const int64_t q_out = config_.num_heads * D, kv_out = config_.num_kv_heads * D;
    at::Tensor q, k, v;
    if (p.qkv_w.defined()) {
      auto qkv = ad("self_attn.qkv_proj", h, at::linear(h, p.qkv_w));
      q = qkv.narrow(1, 0, q_out).reshape({N, config_.num_heads, D});
      k = qkv.narrow(1, q_out, kv_out).reshape({N, config_.num_kv_heads, D});
      v = qkv.narrow(1, q_out + kv_out, kv_out).reshape({N, config_.num_kv_heads, D});
    } else if (fuse_projections()) {
      auto qkv = linear(h, at::cat({p.q_w, p.k_w, p.v_w}), cat_defined({p.q_b, p.k_b, p.v_b}));
      q = qkv.narrow(1, 0, q_out).reshape({N, config_.num_heads, D});
      k = qkv.narrow(1, q_out, kv_out).reshape({N, config_.num_kv_heads, D});
      v = qkv.narrow(1, q_out + kv_out, kv_out).reshape({N, config_.num_kv_heads, D});
    } else {
      q = ad("self_attn.q_proj", h, linear(h, p.q_w, p.q_b)).view({N, config_.num_heads, D});
      k = ad("self_attn.k_proj", h, linear(h, p.k_w, p.k_b)).view({N, config_.num_kv_heads, D});
      v = ad("self_attn.v_proj", h, linear(h, p.v_w, p.v_b)).view({N, config_.num_kv_heads, D});
    }
    if (p.q_norm.defined()) {
      q = rms_norm(q, p.q_norm, config_.norm_eps);
      k = rms_norm(k, p.k_norm, config_.norm_eps);
    }
    q = apply_rope(q, cos, sin);
    k = apply_rope(k, cos, sin);
    auto a = attention.attend(layer, q, k, v);  // [N, heads * D]
    auto x1 = x + ad("self_attn.o_proj", a, linear(a, p.o_w, p.o_b));
    // MLP (SwiGLU)
    h = rms_norm(x1, p.post_norm, config_.norm_eps);
    at::Tensor m;
    if (p.gate_up_w.defined()) {
      auto gate_up = ad("mlp.gate_up_proj", h, at::linear(h, p.gate_up_w));
      const int64_t I = config_.intermediate_size;
      m = at::silu(gate_up.narrow(1, 0, I)) * gate_up.narrow(1, I, I);
    } else if (fuse_projections()) {
      auto gate_up = linear(h, at::cat({p.gate_w, p.up_w}), cat_defined({p.gate_b, p.up_b}));
      const int64_t I = config_.intermediate_size;
      m = at::silu(gate_up.narrow(1, 0, I)) * gate_up.narrow(1, I, I);
    } else {
      m = at::silu(ad("mlp.gate_proj", h, linear(h, p.gate_w, p.gate_b))) *
          ad("mlp.up_proj", h, linear(h, p.up_w, p.up_b));
    }
    return x1 + ad("mlp.down_proj", m, linear(m, p.down_w, p.down_b));
  }

  at::Tensor embed_, final_norm_, lm_head_;
  std::vector<LlamaLayer> layers_;
  // LongRoPE switches to the long factors when this forward holds a position at or beyond
  // original_max_position_embeddings, as transformers does per forward call (one host sync).
  const at::Tensor& rope_frequencies(const at::Tensor& position_ids) const {
    if (!long_inv_freq_.defined() || position_ids.numel() == 0) return inv_freq_;
    return position_ids.max().item<int64_t>() + 1 > config_.rope.original_max_position_embeddings ? long_inv_freq_
                                                                                                  : inv_freq_;
  }

  at::Tensor inv_freq_, long_inv_freq_;
};

}  // namespace

std::unique_ptr<CausalLM> make_llama_model(ModelConfig config, c10::ScalarType dtype, c10::Device device) {
  return std::make_unique<LlamaModel>(std::move(config), dtype, device);
}

}  // namespace rdpo
