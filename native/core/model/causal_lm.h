// Decoder-only language models (Llama, Mistral, Qwen2/3, Phi-3, Gemma 2/3, GPT-2) loaded from Hugging Face
// checkpoints (config.json + safetensors). The forward runs on packed batches (packed_batch.h):
// every linear layer sees the whole [T, hidden] matrix and only attention looks at groups.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/model/model_config.h"
#include "core/model/packed_batch.h"

namespace rdpo {

class LoraAdapter;  // core/model/lora/lora.h

struct GenerationOptions {
  int64_t max_new_tokens = 128;
  double temperature = 0;  // 0 = greedy
  double top_p = 1;
  int64_t top_k = 0;  // 0 = no top-k filter
  uint64_t seed = 0;
  std::vector<int64_t> eos_token_ids;  // empty: the config's eos ids
  int64_t pad_token_id = 0;            // fills left padding and the tail of finished sequences
};

// How the rows of one forward attend to each other. The model computes q/k/v for its N rows and
// hands them over; packed training batches and cached generation differ only here.
class AttentionKernel {
 public:
  virtual ~AttentionKernel() = default;
  // q: [N, heads, head_dim]; k, v: [N, kv_heads, head_dim]. Returns [N, heads * head_dim].
  virtual at::Tensor attend(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) = 0;
};

class CausalLM {
 public:
  // Loads dir/config.json and dir/model.safetensors (or its sharded index) into `dtype` on `device`.
  static std::unique_ptr<CausalLM> load(const std::string& dir, c10::ScalarType dtype, c10::Device device);
  virtual ~CausalLM();

  const ModelConfig& config() const { return config_; }
  c10::ScalarType dtype() const { return dtype_; }
  c10::Device device() const { return device_; }

  // [T, hidden] after the final norm; differentiable with respect to the parameters.
  at::Tensor hidden_states(const PackedBatch& batch);
  // [vocab, hidden]; the input embedding when the weights are tied.
  virtual at::Tensor lm_head_weight() = 0;
  // Hugging Face names and the live parameter tensors, in slot order; tied weights listed once.
  std::vector<std::pair<std::string, at::Tensor>> named_parameters();
  // LoRA adapters on the linear layers (core/model/lora/lora.h); null when none is attached. Attaching
  // freezes the base weights; the adapter then holds the only trainable parameters.
  LoraAdapter* lora() const { return lora_.get(); }
  void set_lora(std::unique_ptr<LoraAdapter> adapter);
  // Recompute each layer during backward instead of keeping its activations.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  bool gradient_checkpointing() const { return checkpointing_; }
  // dir/model.safetensors (floating weights in `dtype`) and dir/config.json, loadable by transformers.
  void save(const std::string& dir, c10::ScalarType dtype);
  // Continues each prompt (KV cache, left-padded batch). Returns only the new tokens of each
  // prompt, ending with the EOS token when one was produced.
  std::vector<std::vector<int64_t>> generate(const std::vector<std::vector<int64_t>>& prompts,
                                             const GenerationOptions& opts);
  // [T, vocab] float32 logits of every packed row (tests, small inputs).
  at::Tensor logits(const PackedBatch& batch);
  // float32 logits of hidden rows [N, hidden], soft-capped when the config says so (Gemma 2).
  at::Tensor output_logits(const at::Tensor& hidden_rows);

  // The model body: token rows -> hidden rows after the final norm. `input_ids`/`position_ids`
  // are [N] int64 on the model's device. `attention` is shared because a checkpointed layer
  // calls it again during backward.
  virtual at::Tensor forward_rows(const at::Tensor& input_ids, const at::Tensor& position_ids,
                                  const std::shared_ptr<AttentionKernel>& attention) = 0;

 protected:
  CausalLM(ModelConfig config, c10::ScalarType dtype, c10::Device device);

  // One parameter the checkpoint must provide: its Hugging Face name and expected shape.
  struct Slot {
    std::string name;
    at::Tensor* tensor;
    std::vector<int64_t> shape;
  };
  virtual std::vector<Slot> slots() = 0;
  // Checkpoint entries that are buffers, not parameters, and are skipped when loading.
  virtual bool ignorable(const std::string& name) const { return false; }
  // Fills every slot from the checkpoint in dir (names, shapes; converts dtype/device).
  void load_weights(const std::string& dir);
  // Runs layer(x) with recomputation in backward when checkpointing is on and grad is enabled.
  // The adapter tensors of modules under `lora_prefix` join `params` (their gradients must flow).
  at::Tensor run_layer(const std::function<at::Tensor(const at::Tensor&)>& layer, const at::Tensor& x,
                       const std::vector<at::Tensor>& params, const std::string& lora_prefix = "");
  // y, the output of the linear module `module` (Hugging Face name without ".weight") on x, plus
  // its LoRA update when an adapter is attached, enabled and targets that module.
  at::Tensor adapt(const std::string& module, const at::Tensor& x, const at::Tensor& y) const;

  ModelConfig config_;
  c10::ScalarType dtype_;
  c10::Device device_;
  bool checkpointing_ = false;

 public:
  // Cast-once low-precision copies of the matmul weights (core/compute_weights.h). Dropped
  // whenever the caller knows the masters are about to change, to give their memory back.
  struct ComputeWeightCache;
  void drop_compute_weights();

 private:
  std::unique_ptr<ComputeWeightCache> compute_cache_;
  std::unique_ptr<LoraAdapter> lora_;
  friend class ComputeWeightsScope;
  friend class LoraAdapter;       // reaches slots() to freeze, merge and name the linear modules
  friend struct LoraCheckAccess;  // the test-only LoRA checks swap target weights (core/checks/lora_check.cpp)
  friend at::Tensor compute_weight(CausalLM&, const at::Tensor&, c10::ScalarType);
};

std::unique_ptr<CausalLM> make_llama_model(ModelConfig config, c10::ScalarType dtype, c10::Device device);
std::unique_ptr<CausalLM> make_gpt2_model(ModelConfig config, c10::ScalarType dtype, c10::Device device);
std::unique_ptr<CausalLM> make_gemma_model(ModelConfig config, c10::ScalarType dtype, c10::Device device);

// Per-sequence log-probabilities of a packed batch: core/model/sequence_scoring.h (one path for
// training, eval and the logprobs command).

}  // namespace rdpo
