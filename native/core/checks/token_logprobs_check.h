// Self-checks of the fused output layer against the plain autograd path, on random data: the
// numbers behind test/fused_logprobs.test.ts and bench/fused_loss_memory.mjs.
#pragma once
#include <cstdint>
#include <string>

namespace rdpo {

struct FusedLogprobsErrors {
  // max |fused − unfused| / max |unfused| over each tensor (max-norm relative error; elementwise
  // relative error is meaningless for gradient entries that are ~0).
  double values = 0;
  double grad_hidden = 0;
  double grad_weight = 0;
};

// Random hidden [n, h], weight [v, h], targets [n] and upstream gradient [n] from `seed`; runs
// both paths forward and backward in `dtype` ("float32", "bfloat16", "float16") on `device`.
// softcap > 0 soft-caps the logits on both paths (Gemma 2's final_logit_softcapping).
FusedLogprobsErrors compare_fused_to_unfused(int64_t n, int64_t h, int64_t v, int64_t chunk, const std::string& dtype,
                                             uint64_t seed, const std::string& device = "cpu", double softcap = 0);

struct LossStageMemory {
  int64_t peak_bytes = 0;  // CPU tensor bytes live at the peak of forward + backward (CpuAllocationMeter)
  double seconds = 0;      // wall time of forward + backward
};

// Peak memory of the loss stage alone (token log-probs forward and backward for hidden [n, h] and
// weight [v, h], the gradients included; the inputs themselves excluded), on the CPU. Concurrent
// calls wait for each other (the meter counts every CPU allocation of the process).
LossStageMemory measure_loss_stage_memory(int64_t n, int64_t h, int64_t v, int64_t chunk, bool fused,
                                          const std::string& dtype);

}  // namespace rdpo
