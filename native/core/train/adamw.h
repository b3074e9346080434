// AdamW on float32 master parameters, with state that can be saved and restored exactly.
// Uses ATen's fused multi-tensor kernel (the same one torch.optim.AdamW(fused=True) runs).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace rdpo {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class AdamW {
 public:
  // Parameters named as in the checkpoint; biases and norm weights get no weight decay
  // (Hugging Face Trainer's convention).
  AdamW(std::vector<std::pair<std::string, at::Tensor>> params, AdamWOptions options);

  // One update from the parameters' .grad(); parameters without a gradient are skipped.
  void step(double lr);
  int64_t step_count() const { return step_count_; }

  // "<param>.exp_avg", "<param>.exp_avg_sq" and "__step__": everything needed for an exact resume.
  std::vector<std::pair<std::string, at::Tensor>> state() const;
  void load_state(const std::map<std::string, at::Tensor>& state);

 private:
  struct Group {
    std::vector<at::Tensor> params, exp_avg, exp_avg_sq, steps;
    std::vector<std::string> names;
    double weight_decay = 0;
  };
  std::vector<Group> groups_;
  AdamWOptions options_;
  int64_t step_count_ = 0;
};

// Scales gradients so their global L2 norm is at most max_norm (max_norm <= 0: measure only).
// Returns the norm before clipping.
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace rdpo
