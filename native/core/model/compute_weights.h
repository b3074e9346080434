// bf16/fp16 compute over float32 master weights, with each weight cast once rather than once per
// forward. Autocast casts every matmul weight again in every forward (its cache lives for one
// forward on one thread), which for a 135M model is ~0.8 GB of memory traffic per micro-batch and
// per reference call. Here the low-precision copy of each matmul weight is kept with the model
// until a master weight changes (tensor version counters tell: the optimiser updates in place),
// and is swapped into the model for the duration of a forward. Under grad mode the copy is made
// with autograd on (its ToCopy node saves no tensors, so every micro-batch's backward can pass
// through it into the float32 master's .grad, as autocast's per-forward cast does). The values
// are the same round-to-nearest cast autocast makes, so results are identical.
#pragma once
#include <unordered_map>

#include <torch/torch.h>

#include "core/model/causal_lm.h"

namespace rdpo {

// Held by the model: one cast copy per master weight, keyed by the master.
struct CausalLM::ComputeWeightCache {
  struct Entry {
    at::Tensor master;  // held so that its address (the key) cannot be reused by another tensor
    at::Tensor copy;
    int64_t master_version;
    bool with_grad;  // made under grad mode: its backward reaches the master's .grad
  };
  c10::ScalarType dtype = torch::kFloat32;
  std::unordered_map<const c10::TensorImpl*, Entry> entries;

  // Usable for `master` now: same dtype, master unchanged since the cast, and connected to the
  // master's gradient if gradients are being recorded.
  const at::Tensor* find(const at::Tensor& master, c10::ScalarType want) const {
    if (want != dtype) return nullptr;
    auto it = entries.find(master.unsafeGetTensorImpl());
    if (it == entries.end() || it->second.master_version != static_cast<int64_t>(master._version())) return nullptr;
    if (!it->second.master.is_same(master)) return nullptr;
    if (torch::GradMode::is_enabled() && master.requires_grad() && !it->second.with_grad) return nullptr;
    return &it->second.copy;
  }

  const at::Tensor& add(const at::Tensor& master, c10::ScalarType want) {
    if (want != dtype) {
      entries.clear();
      dtype = want;
    }
    auto& e = entries[master.unsafeGetTensorImpl()];
    e.master = master;
    e.copy = master.to(want);
    e.master_version = static_cast<int64_t>(master._version());
    e.with_grad = torch::GradMode::is_enabled() && master.requires_grad();
    return e.copy;
  }
};

// While alive, the model's matmul weights are their cached `dtype` copies (made or refreshed
// here). Does nothing (the model runs on its masters under autocast as before) unless
// PerfOptions::cast_weights_once, autocast is on for the model's device with a 16-bit dtype, the
// masters are float32, and gradient checkpointing is off (a checkpointed layer reads the weights
// again during backward, after this scope).
class ComputeWeightsScope {
 public:
  explicit ComputeWeightsScope(CausalLM& model);
  ~ComputeWeightsScope();
  ComputeWeightsScope(const ComputeWeightsScope&) = delete;
  ComputeWeightsScope& operator=(const ComputeWeightsScope&) = delete;

 private:
  CausalLM& model_;
  std::vector<std::pair<at::Tensor*, at::Tensor>> swapped_;  // slot, master to put back
};

// `master` in `dtype`: the cached copy when the model holds a current one, else a fresh cast.
at::Tensor compute_weight(CausalLM& model, const at::Tensor& master, c10::ScalarType dtype);

}  // namespace rdpo
