// Switches for the performance levers of docs/benchmarks.md ("Levers, measured under load").
// Each defaults to the setting that measured best (A/B figures in docs/benchmarks.md). They exist
// so that bench/ab.mjs can compare both settings step by step inside one process (robust to other
// load), and as a way back if a lever misbehaves on some machine. Process-wide; read when used.
#pragma once

namespace rdpo {

struct PerfOptions {
  // bf16/fp16 compute: keep one low-precision copy of each matmul weight per optimiser step (or,
  // for a frozen reference model, for good) instead of autocast casting every weight in every
  // forward. Values are identical (the same round-to-nearest cast); see core/compute_weights.h.
  // Off: no faster in the bench once large buffers stopped being page-faulted afresh (core/
  // malloc_tuning.h); it saves most with several micro-batches per optimiser step.
  bool cast_weights_once = false;
  // RMSNorm as one fused forward and one fused backward kernel instead of ~6 elementwise ops
  // (core/fused_norm.h).
  bool fused_rms_norm = true;
  // Packed pair groups: the prompt and the chosen completion as one plain causal sequence, the
  // rejected completion against the prompt's keys/values, instead of one masked attention over the
  // whole group (core/attention.h). Same values up to float rounding.
  bool prefix_attention = false;  // off: no faster on the bench pairs (docs/benchmarks.md, "Levers")
  // Llama-family layers stored as separate q/k/v and gate/up weights: one matmul over the
  // concatenated weights for each group (fewer, larger GEMMs) instead of three and two. The
  // concatenation is redone every forward (autograd splits the gradient back). Not used where LoRA
  // adapts those modules. Same values up to float rounding.
  bool fuse_projections = false;
};

PerfOptions& perf_options();

}  // namespace rdpo
