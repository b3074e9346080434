// The LoRA checks of core/model/lora/lora.h (tests only): the adapted model against an explicitly
// merged one, so a test can compare the adapter path (and its gradients, checkpointed or not) with
// plain autograd.
#pragma once
#include <cstdint>

#include <torch/torch.h>

#include "core/model/causal_lm.h"
#include "core/model/packed_batch.h"

namespace rdpo {

// Logits of `batch` and the gradients of loss = sum(logits * probe) with respect to every A and B
// (LoraAdapter::named_parameters() order, flattened and concatenated).
struct LoraGrads {
  at::Tensor logits, grads;
};
// The model with its adapter (optionally checkpointed, after seeding the default generators with `seed`).
LoraGrads lora_adapted_grads(CausalLM& model, const PackedBatch& batch, const at::Tensor& probe, bool checkpointing,
                             uint64_t seed);
// The model with its adapter off and each target weight replaced by W + s·B·A built from copies of
// A and B, differentiated by plain autograd through that product.
LoraGrads lora_merged_grads(CausalLM& model, const PackedBatch& batch, const at::Tensor& probe);

}  // namespace rdpo
