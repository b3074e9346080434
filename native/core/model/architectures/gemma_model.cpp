// The Gemma block (Gemma 2, Gemma 3 text):
//
//   x = embed[tokens] * sqrt(hidden)            (the scale cast to the model dtype first)
//   for each layer:
//     h = norm(x) ; q, k, v = h Wq, h Wk, h Wv ; (Gemma 3: q, k = norm(q), norm(k) per head)
//     rotate q, k by position (Gemma 3: a local rope base on sliding layers, a global one elsewhere)
//     x = x + norm(attention(q, k, v) Wo)        (attention: scale query_pre_attn_scalar^-1/2,
//                                                  optional score soft-capping, sliding window on
//                                                  the layers config.json marks)
//     h = norm(x) ; x = x + norm((gelu_tanh(h Wgate) * h Wup) Wdown)
//   hidden = norm(x) ; logits = softcap(hidden Wlm^T)
//
// norm is Gemma's RMSNorm: computed in float32 and scaled by (1 + w) before casting back.
// The attention and logit details live in AttentionLayout and CausalLM::output_logits.
#include <cmath>

#include "core/model/causal_lm.h"
#include "core/model/layers/rotary.h"

namespace rdpo {
namespace {

struct GemmaLayer {
  at::Tensor input_norm, post_attn_norm, pre_ff_norm, post_ff_norm;
  at::Tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
  at::Tensor q_norm, k_norm;  // Gemma 3
  at::Tensor gate_w, up_w, down_w;
};

at::Tensor gemma_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  auto h = x.to(torch::kFloat32);
  h = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (h * (1.0 + weight.to(torch::kFloat32))).to(x.scalar_type());
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

class GemmaModel : public CausalLM {
 public:
  GemmaModel(ModelConfig config, c10::ScalarType dtype, c10::Device device)
      : CausalLM(std::move(config), dtype, device), layers_(config_.num_layers) {
    global_inv_freq_ = rope_inv_freq(config_.rope, rotary_dims(config_.rope, config_.head_dim)).to(device_);
    local_inv_freq_ = rope_inv_freq(config_.rope_local, rotary_dims(config_.rope_local, config_.head_dim)).to(device_);
  }

  at::Tensor lm_head_weight() override { return config_.tie_word_embeddings ? embed_ : lm_head_; }

  at::Tensor forward_rows(const at::Tensor& input_ids, const at::Tensor& position_ids,
                          const std::shared_ptr<AttentionKernel>& attention) override {
    const auto global = rope_cos_sin(global_inv_freq_, position_ids, dtype_);
    const auto local = rope_cos_sin(local_inv_freq_, position_ids, dtype_);
    at::Tensor x = embed_.index_select(0, input_ids);  // [N, hidden]
    // transformers multiplies by sqrt(hidden) held as a tensor in the embedding's dtype.
    x = x * at::scalar_tensor(std::sqrt(static_cast<double>(config_.hidden_size)), torch::kFloat32).to(x.scalar_type());
    for (int64_t l = 0; l < config_.num_layers; ++l) {
      const auto& rope = config_.layer_window(l) > 0 ? local : global;
      auto block = [this, l, rope, attention](const at::Tensor& in) {
        return layer_forward(layers_[l], l, in, rope.first, rope.second, *attention);
      };
      x = run_layer(block, x, layer_params(layers_[l]), "model.layers." + std::to_string(l) + ".");
    }
    return gemma_rms_norm(x, final_norm_, config_.norm_eps);
  }

 protected:
  std::vector<Slot> slots() override {
    const int64_t H = config_.hidden_size, I = config_.intermediate_size, D = config_.head_dim;
    const int64_t q_out = config_.num_heads * D, kv_out = config_.num_kv_heads * D;
    const bool bias = config_.attention_bias;
    std::vector<Slot> s;
    s.push_back({"model.embed_tokens.weight", &embed_, {config_.vocab_size, H}});
    for (int64_t l = 0; l < config_.num_layers; ++l) {
      GemmaLayer& p = layers_[l];
      const std::string pre = "model.layers." + std::to_string(l) + ".";
      s.push_back({pre + "input_layernorm.weight", &p.input_norm, {H}});
      s.push_back({pre + "self_attn.q_proj.weight", &p.q_w, {q_out, H}});
      if (bias) s.push_back({pre + "self_attn.q_proj.bias", &p.q_b, {q_out}});
      s.push_back({pre + "self_attn.k_proj.weight", &p.k_w, {kv_out, H}});
      if (bias) s.push_back({pre + "self_attn.k_proj.bias", &p.k_b, {kv_out}});
      s.push_back({pre + "self_attn.v_proj.weight", &p.v_w, {kv_out, H}});
      if (bias) s.push_back({pre + "self_attn.v_proj.bias", &p.v_b, {kv_out}});
      s.push_back({pre + "self_attn.o_proj.weight", &p.o_w, {H, q_out}});
      if (bias) s.push_back({pre + "self_attn.o_proj.bias", &p.o_b, {H}});
      if (config_.qk_norm) {
        s.push_back({pre + "self_attn.q_norm.weight", &p.q_norm, {D}});
        s.push_back({pre + "self_attn.k_norm.weight", &p.k_norm, {D}});
      }
      s.push_back({pre + "post_attention_layernorm.weight", &p.post_attn_norm, {H}});
      s.push_back({pre + "pre_feedforward_layernorm.weight", &p.pre_ff_norm, {H}});
      s.push_back({pre + "post_feedforward_layernorm.weight", &p.post_ff_norm, {H}});
      s.push_back({pre + "mlp.gate_proj.weight", &p.gate_w, {I, H}});
      s.push_back({pre + "mlp.up_proj.weight", &p.up_w, {I, H}});
      s.push_back({pre + "mlp.down_proj.weight", &p.down_w, {H, I}});
    }
    s.push_back({"model.norm.weight", &final_norm_, {H}});
    if (!config_.tie_word_embeddings) s.push_back({"lm_head.weight", &lm_head_, {config_.vocab_size, H}});
    return s;
  }

  bool ignorable(const std::string& name) const override {
    return config_.tie_word_embeddings && name == "lm_head.weight";
  }

 private:
  static std::vector<at::Tensor> layer_params(const GemmaLayer& p) {
    std::vector<at::Tensor> out;
    for (const at::Tensor* t :
         {&p.input_norm, &p.post_attn_norm, &p.pre_ff_norm, &p.post_ff_norm, &p.q_w, &p.q_b, &p.k_w, &p.k_b, &p.v_w,
          &p.v_b, &p.o_w, &p.o_b, &p.q_norm, &p.k_norm, &p.gate_w, &p.up_w, &p.down_w})
      if (t->defined()) out.push_back(*t);
    return out;
  }

  at::Tensor layer_forward(const GemmaLayer& p, int64_t layer, const at::Tensor& x, const at::Tensor& cos,
                           const at::Tensor& sin, AttentionKernel& attention) {
    const int64_t N = x.size(0), D = config_.head_dim;
    const double eps = config_.norm_eps;
    // Each linear output passes through adapt(): the LoRA update of that module, if it has one.
    const std::string pre = lora() ? "model.layers." + std::to_string(layer) + "." : std::string();
    auto ad = [&](const char* module, const at::Tensor& in, const at::Tensor& out) {
      return lora() ? adapt(pre + module, in, out) : out;
    };
    auto h = gemma_rms_norm(x, p.input_norm, eps);
    auto q = ad("self_attn.q_proj", h, linear(h, p.q_w, p.q_b)).view({N, config_.num_heads, D});
    auto k = ad("self_attn.k_proj", h, linear(h, p.k_w, p.k_b)).view({N, config_.num_kv_heads, D});
    auto v = ad("self_attn.v_proj", h, linear(h, p.v_w, p.v_b)).view({N, config_.num_kv_heads, D});
    if (p.q_norm.defined()) {
      q = gemma_rms_norm(q, p.q_norm, eps);
      k = gemma_rms_norm(k, p.k_norm, eps);
    }
    q = apply_rope(q, cos, sin);
    k = apply_rope(k, cos, sin);
    auto attended = attention.attend(layer, q, k, v);
    auto a = ad("self_attn.o_proj", attended, linear(attended, p.o_w, p.o_b));
    auto x1 = x + gemma_rms_norm(a, p.post_attn_norm, eps);
    h = gemma_rms_norm(x1, p.pre_ff_norm, eps);
    auto m =
        at::gelu(ad("mlp.gate_proj", h, at::linear(h, p.gate_w)), "tanh") * ad("mlp.up_proj", h, at::linear(h, p.up_w));
    return x1 + gemma_rms_norm(ad("mlp.down_proj", m, at::linear(m, p.down_w)), p.post_ff_norm, eps);
  }

  at::Tensor embed_, final_norm_, lm_head_;
  std::vector<GemmaLayer> layers_;
  at::Tensor global_inv_freq_, local_inv_freq_;
};

}  // namespace

std::unique_ptr<CausalLM> make_gemma_model(ModelConfig config, c10::ScalarType dtype, c10::Device device) {
  return std::make_unique<GemmaModel>(std::move(config), dtype, device);
}

}  // namespace rdpo
