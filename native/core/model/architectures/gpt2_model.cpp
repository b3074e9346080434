// GPT-2:
//
//   x = wte[tokens] + wpe[positions]
//   for each layer:
//     q, k, v = split(layer_norm(x) W_attn + b_attn) ; x = x + attention(q, k, v) W_proj + b_proj
//     x = x + gelu_new(layer_norm(x) W_fc + b_fc) W_proj2 + b_proj2
//   hidden = layer_norm(x) ; logits = hidden wte^T
//
// Weights keep Hugging Face's Conv1D layout [in, out], so a layer is addmm(b, x, W).
#include <cmath>

#include "core/model/causal_lm.h"

namespace rdpo {
namespace {

struct Gpt2Layer {
  at::Tensor ln1_w, ln1_b, attn_w, attn_b, attn_proj_w, attn_proj_b;
  at::Tensor ln2_w, ln2_b, fc_w, fc_b, mlp_proj_w, mlp_proj_b;
};

// The tanh approximation of GELU, written as transformers' NewGELUActivation computes it.
at::Tensor gelu_new(const at::Tensor& x) {
  return 0.5 * x * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * at::pow(x, 3.0))));
}

class Gpt2Model : public CausalLM {
 public:
  Gpt2Model(ModelConfig config, c10::ScalarType dtype, c10::Device device)
      : CausalLM(std::move(config), dtype, device), layers_(config_.num_layers) {}

  at::Tensor lm_head_weight() override { return config_.tie_word_embeddings ? wte_ : lm_head_; }

  at::Tensor forward_rows(const at::Tensor& input_ids, const at::Tensor& position_ids,
                          const std::shared_ptr<AttentionKernel>& attention) override {
    at::Tensor x = wte_.index_select(0, input_ids) + wpe_.index_select(0, position_ids);
    for (int64_t l = 0; l < config_.num_layers; ++l) {
      auto block = [this, l, attention](const at::Tensor& in) { return layer_forward(layers_[l], l, in, *attention); };
      const Gpt2Layer& p = layers_[l];
      x = run_layer(block, x,
                    {p.ln1_w, p.ln1_b, p.attn_w, p.attn_b, p.attn_proj_w, p.attn_proj_b, p.ln2_w, p.ln2_b, p.fc_w,
                     p.fc_b, p.mlp_proj_w, p.mlp_proj_b},
                    "transformer.h." + std::to_string(l) + ".");
    }
    return layer_norm(x, lnf_w_, lnf_b_);
  }

 protected:
  std::vector<Slot> slots() override {
    const int64_t H = config_.hidden_size, I = config_.intermediate_size;
    std::vector<Slot> s;
    s.push_back({"transformer.wte.weight", &wte_, {config_.vocab_size, H}});
    s.push_back({"transformer.wpe.weight", &wpe_, {config_.max_position_embeddings, H}});
    for (int64_t l = 0; l < config_.num_layers; ++l) {
      Gpt2Layer& p = layers_[l];
      const std::string pre = "transformer.h." + std::to_string(l) + ".";
      s.push_back({pre + "ln_1.weight", &p.ln1_w, {H}});
      s.push_back({pre + "ln_1.bias", &p.ln1_b, {H}});
      s.push_back({pre + "attn.c_attn.weight", &p.attn_w, {H, 3 * H}});
      s.push_back({pre + "attn.c_attn.bias", &p.attn_b, {3 * H}});
      s.push_back({pre + "attn.c_proj.weight", &p.attn_proj_w, {H, H}});
      s.push_back({pre + "attn.c_proj.bias", &p.attn_proj_b, {H}});
      s.push_back({pre + "ln_2.weight", &p.ln2_w, {H}});
      s.push_back({pre + "ln_2.bias", &p.ln2_b, {H}});
      s.push_back({pre + "mlp.c_fc.weight", &p.fc_w, {H, I}});
      s.push_back({pre + "mlp.c_fc.bias", &p.fc_b, {I}});
      s.push_back({pre + "mlp.c_proj.weight", &p.mlp_proj_w, {I, H}});
      s.push_back({pre + "mlp.c_proj.bias", &p.mlp_proj_b, {H}});
    }
    s.push_back({"transformer.ln_f.weight", &lnf_w_, {H}});
    s.push_back({"transformer.ln_f.bias", &lnf_b_, {H}});
    if (!config_.tie_word_embeddings) s.push_back({"lm_head.weight", &lm_head_, {config_.vocab_size, H}});
    return s;
  }

  bool ignorable(const std::string& name) const override {
    // The causal-mask buffers older checkpoints carry, and a duplicate of the tied head.
    auto ends_with = [&](const char* suffix) {
      std::string s(suffix);
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    return ends_with(".attn.bias") || ends_with(".attn.masked_bias") ||
           (config_.tie_word_embeddings && name == "lm_head.weight");
  }

 private:
  at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const {
    return at::layer_norm(x, {config_.hidden_size}, w, b, config_.norm_eps);
  }

  at::Tensor layer_forward(const Gpt2Layer& p, int64_t layer, const at::Tensor& x, AttentionKernel& attention) {
    const int64_t N = x.size(0), H = config_.hidden_size, heads = config_.num_heads, D = config_.head_dim;
    // Each Conv1D output passes through adapt(): the LoRA update of that module, if it has one.
    const std::string pre = lora() ? "transformer.h." + std::to_string(layer) + "." : std::string();
    auto ad = [&](const char* module, const at::Tensor& in, const at::Tensor& out) {
      return lora() ? adapt(pre + module, in, out) : out;
    };
    auto h1 = layer_norm(x, p.ln1_w, p.ln1_b);
    auto qkv = ad("attn.c_attn", h1, at::addmm(p.attn_b, h1, p.attn_w));  // [N, 3H]
    auto q = qkv.narrow(1, 0, H).view({N, heads, D});
    auto k = qkv.narrow(1, H, H).view({N, heads, D});
    auto v = qkv.narrow(1, 2 * H, H).view({N, heads, D});
    auto attended = attention.attend(layer, q, k, v);
    auto x1 = x + ad("attn.c_proj", attended, at::addmm(p.attn_proj_b, attended, p.attn_proj_w));
    auto h2 = layer_norm(x1, p.ln2_w, p.ln2_b);
    auto h = ad("mlp.c_fc", h2, at::addmm(p.fc_b, h2, p.fc_w));
    h = config_.hidden_act == "gelu_new" ? gelu_new(h) : at::gelu(h, "tanh");
    return x1 + ad("mlp.c_proj", h, at::addmm(p.mlp_proj_b, h, p.mlp_proj_w));
  }

  at::Tensor wte_, wpe_, lnf_w_, lnf_b_, lm_head_;
  std::vector<Gpt2Layer> layers_;
};

}  // namespace

std::unique_ptr<CausalLM> make_gpt2_model(ModelConfig config, c10::ScalarType dtype, c10::Device device) {
  return std::make_unique<Gpt2Model>(std::move(config), dtype, device);
}

}  // namespace rdpo
