#include "core/checks/lora_check.h"

#include <ATen/CPUGeneratorImpl.h>

#include <map>

#include "core/base/errors.h"
#include "core/model/lora/lora.h"

namespace rdpo {

// The one way the checks reach the model's weight slots (CausalLM befriends it).
struct LoraCheckAccess {
  static std::map<std::string, at::Tensor*> slots(CausalLM& model) {
    std::map<std::string, at::Tensor*> out;
    for (auto& s : model.slots()) out[s.name] = s.tensor;
    return out;
  }
};

namespace {

at::Tensor flat_grads(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> flat;
  for (const auto& p : params)
    flat.push_back(p.grad().defined() ? p.grad().detach().reshape(-1).to(torch::kCPU, torch::kFloat32)
                                      : torch::zeros({p.numel()}, torch::kFloat32));
  return at::cat(flat);
}

}  // namespace

LoraGrads lora_adapted_grads(CausalLM& model, const PackedBatch& batch, const at::Tensor& probe, bool checkpointing,
                             uint64_t seed) {
  LoraAdapter* adapter = model.lora();
  if (!adapter) throw ArgumentError("adapted_grads: the model has no LoRA adapter attached");
  torch::AutoGradMode grad_on(true);
  const bool was = model.gradient_checkpointing();
  model.set_gradient_checkpointing(checkpointing);
  std::vector<at::Tensor> params;
  for (auto& [name, p] : adapter->named_parameters()) {
    p.mutable_grad() = at::Tensor();
    params.push_back(p);
  }
  torch::manual_seed(seed);
  LoraGrads out;
  try {
    LoraTraining training(model);  // dropout on, as in a training step
    at::Tensor logits = model.logits(batch);
    (logits * probe.to(logits.device())).sum().backward();
    out.logits = logits.detach().cpu();
  } catch (...) {
    model.set_gradient_checkpointing(was);
    throw;
  }
  model.set_gradient_checkpointing(was);
  out.grads = flat_grads(params);
  for (auto& p : params) p.mutable_grad() = at::Tensor();
  return out;
}

LoraGrads lora_merged_grads(CausalLM& model, const PackedBatch& batch, const at::Tensor& probe) {
  LoraAdapter* adapter = model.lora();
  if (!adapter) throw ArgumentError("merged_grads: the model has no LoRA adapter attached");
  torch::AutoGradMode grad_on(true);
  std::map<std::string, at::Tensor*> slots = LoraCheckAccess::slots(model);
  std::vector<at::Tensor> copies;                         // A', B' in named_parameters() order
  std::vector<std::pair<at::Tensor*, at::Tensor>> saved;  // slot, original weight
  for (const auto& m : adapter->modules()) {
    at::Tensor a = m.a.detach().clone().requires_grad_(true);
    at::Tensor b = m.b.detach().clone().requires_grad_(true);
    copies.push_back(a);
    copies.push_back(b);
    at::Tensor* slot = slots.at(m.name + ".weight");
    at::Tensor delta = at::matmul(b, a) * m.scaling;  // [out, in]
    if (m.fan_in_fan_out) delta = delta.t();
    saved.emplace_back(slot, *slot);
    *slot = (slot->detach().to(torch::kFloat32) + delta).to(slot->scalar_type());
  }
  LoraGrads out;
  try {
    AdaptersDisabled off(model);
    at::Tensor logits = model.logits(batch);
    (logits * probe.to(logits.device())).sum().backward();
    out.logits = logits.detach().cpu();
  } catch (...) {
    for (auto& [slot, w] : saved) *slot = w;
    throw;
  }
  for (auto& [slot, w] : saved) *slot = w;
  model.drop_compute_weights();
  out.grads = flat_grads(copies);
  return out;
}

}  // namespace rdpo
