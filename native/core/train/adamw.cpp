#include "core/train/adamw.h"

#include <cmath>

#include "core/base/errors.h"

namespace rdpo {
namespace {

bool decays(const std::string& name) {
  return name.find("bias") == std::string::npos && name.find("norm") == std::string::npos &&
         name.find("ln_") == std::string::npos;
}

}  // namespace

AdamW::AdamW(std::vector<std::pair<std::string, at::Tensor>> params, AdamWOptions options) : options_(options) {
  groups_.resize(2);
  groups_[0].weight_decay = options.weight_decay;
  groups_[1].weight_decay = 0.0;
  for (auto& [name, p] : params) {
    if (p.scalar_type() != torch::kFloat32)
      throw ArgumentError("AdamW keeps float32 master weights; parameter '" + name + "' is " +
                          c10::toString(p.scalar_type()));
    Group& g = groups_[decays(name) ? 0 : 1];
    g.names.push_back(name);
    g.params.push_back(p);
    g.exp_avg.push_back(torch::zeros_like(p));
    g.exp_avg_sq.push_back(torch::zeros_like(p));
    g.steps.push_back(torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(p.device())));
  }
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  for (auto& g : groups_) {
    std::vector<at::Tensor> params, grads, m, v, steps;
    for (size_t i = 0; i < g.params.size(); ++i) {
      const auto& grad = g.params[i].grad();
      if (!grad.defined()) continue;
      params.push_back(g.params[i]);
      grads.push_back(grad);
      m.push_back(g.exp_avg[i]);
      v.push_back(g.exp_avg_sq[i]);
      steps.push_back(g.steps[i]);
    }
    if (params.empty()) continue;
    // The fused kernel reads the step count as already incremented (bias correction 1 − β^t, t ≥ 1).
    at::_foreach_add_(steps, 1);
    at::_fused_adamw_(params, grads, m, v, /*max_exp_avg_sqs=*/{}, steps, lr, options_.beta1, options_.beta2,
                      g.weight_decay, options_.eps, /*amsgrad=*/false, /*maximize=*/false);
  }
  ++step_count_;
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& g : groups_) {
    for (size_t i = 0; i < g.params.size(); ++i) {
      out.emplace_back(g.names[i] + ".exp_avg", g.exp_avg[i]);
      out.emplace_back(g.names[i] + ".exp_avg_sq", g.exp_avg_sq[i]);
      out.emplace_back(g.names[i] + ".step", g.steps[i].reshape({1}));
    }
  }
  // Stored as float32 like the rest of the state (exact up to 2^24 steps).
  out.emplace_back("__step__", torch::tensor({static_cast<float>(step_count_)}, torch::kFloat32));
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& state) {
  torch::NoGradGuard no_grad;
  auto get = [&](const std::string& key) -> const at::Tensor& {
    auto it = state.find(key);
    if (it == state.end()) throw ArgumentError("optimizer state has no entry '" + key + "'");
    return it->second;
  };
  for (auto& g : groups_) {
    for (size_t i = 0; i < g.params.size(); ++i) {
      const auto& m = get(g.names[i] + ".exp_avg");
      if (!m.sizes().equals(g.params[i].sizes()))
        throw RangeError("optimizer state '" + g.names[i] + ".exp_avg' has the wrong shape");
      g.exp_avg[i].copy_(m);
      g.exp_avg_sq[i].copy_(get(g.names[i] + ".exp_avg_sq"));
      g.steps[i].copy_(get(g.names[i] + ".step").reshape({}));
    }
  }
  step_count_ = static_cast<int64_t>(get("__step__").item<double>());
}

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  auto norms = at::_foreach_norm(grads, 2);
  double total = at::stack(norms).to(torch::kFloat64).pow(2).sum().sqrt().item<double>();
  if (max_norm > 0 && std::isfinite(total) && total > max_norm) {
    at::_foreach_mul_(grads, max_norm / (total + 1e-6));
  }
  return total;
}

}  // namespace rdpo
