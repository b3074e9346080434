#include "core/model/compute_weights.h"

#include <ATen/autocast_mode.h>

#include "core/runtime/perf_options.h"

namespace rdpo {

void CausalLM::drop_compute_weights() { compute_cache_.reset(); }

namespace {

// Matmul weights: 2-D floating parameters other than the input embeddings (a lookup, which autocast
// leaves in float32; a tied LM head is cast where it is used, through compute_weight).
bool is_matmul_weight(const std::string& name, const at::Tensor& t) {
  return t.defined() && t.dim() == 2 && t.is_floating_point() && name.find("embed_tokens") == std::string::npos &&
         name.find(".wte.") == std::string::npos && name.find(".wpe.") == std::string::npos;
}

}  // namespace

ComputeWeightsScope::ComputeWeightsScope(CausalLM& model) : model_(model) {
  const auto device = model.device().type();
  if (!perf_options().cast_weights_once || model.dtype() != torch::kFloat32 || model.gradient_checkpointing()) return;
  if (!at::autocast::is_autocast_enabled(device)) return;
  const auto dtype = at::autocast::get_autocast_dtype(device);
  if (dtype != torch::kBFloat16 && dtype != torch::kFloat16) return;
  if (!model.compute_cache_) model.compute_cache_ = std::make_unique<CausalLM::ComputeWeightCache>();
  auto& cache = *model.compute_cache_;
  for (auto& slot : model.slots()) {
    at::Tensor& t = *slot.tensor;
    if (!is_matmul_weight(slot.name, t)) continue;
    const at::Tensor* copy = cache.find(t, dtype);
    at::Tensor use = copy ? *copy : cache.add(t, dtype);
    swapped_.emplace_back(slot.tensor, t);
    t = use;
  }
}

ComputeWeightsScope::~ComputeWeightsScope() {
  for (auto& [slot, master] : swapped_) *slot = master;
}

at::Tensor compute_weight(CausalLM& model, const at::Tensor& master, c10::ScalarType dtype) {
  if (master.scalar_type() == dtype) return master;
  if (!perf_options().cast_weights_once || !model.compute_cache_) return master.to(dtype);
  auto& cache = *model.compute_cache_;
  if (const at::Tensor* copy = cache.find(master, dtype)) return *copy;
  return cache.add(master, dtype);
}

}  // namespace rdpo
