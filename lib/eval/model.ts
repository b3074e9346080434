// Scoring for the evaluation: summed log-probabilities of packed sequences. Models are loaded by
// inference/load_model.ts (one loader for every command); everything else in lib/eval works on
// token ids and text.
import type { CausalLM } from '../model/causal_lm.js';
import type { PackedBatch } from '../model/packing.js';

/** Summed log-probabilities of each scored sequence of a packed batch (float64 copies). */
export async function sequenceSums(lm: CausalLM, batch: PackedBatch): Promise<Float64Array> {
  const out = await lm.sequenceLogprobs(batch);
  return Float64Array.from(out.sum);
}
