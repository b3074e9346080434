// Llama 3.1/3.2 rope scaling from a GGUF. convert_hf_to_gguf does not store the `llama3` rope
// parameters; it stores their effect, `rope_freqs.weight`: one divisor per rotary frequency pair,
// 1 for high frequencies, `factor` for low ones and a smooth blend between, from HF's
// (factor, low_freq_factor, high_freq_factor, original_max_position_embeddings). This finds the
// parameters that reproduce the stored divisors, trying the values Meta's releases use, so that
// config.json can say `rope_scaling: {rope_type: "llama3", …}` as the original did.
import { GgufFormatError } from './reader.js';

export interface Llama3RopeScaling {
  rope_type: 'llama3';
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}

/** The divisor per frequency pair that the converter derives from the parameters (HF's llama3 rule). */
export function llama3RopeDivisors(p: Omit<Llama3RopeScaling, 'rope_type'>, ropeTheta: number, headDim: number): number[] {
  const lowWavelen = p.original_max_position_embeddings / p.low_freq_factor;
  const highWavelen = p.original_max_position_embeddings / p.high_freq_factor;
  const out: number[] = [];
  for (let i = 0; i < headDim; i += 2) {
    const freq = 1 / ropeTheta ** (i / headDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out.push(1);
    else if (wavelen > lowWavelen) out.push(p.factor);
    else {
      const smooth = (p.original_max_position_embeddings / wavelen - p.low_freq_factor) / (p.high_freq_factor - p.low_freq_factor);
      out.push(1 / ((1 - smooth) / p.factor + smooth));
    }
  }
  return out;
}

export function llama3RopeScaling(divisors: readonly number[], ropeTheta: number, headDim: number, where: string, originalContext?: number): Llama3RopeScaling {
  if (divisors.length !== headDim / 2)
    throw new GgufFormatError(`${where}: rope_freqs.weight has ${divisors.length} values, expected head_dim/2 = ${headDim / 2}`);
  const factor = divisors[divisors.length - 1]!;
  const contexts = [...new Set([originalContext, 8192].filter((c): c is number => c !== undefined))];
  let best = Infinity;
  for (const original of contexts) {
    for (const [low, high] of [[1, 4]] as const) {
      const p = { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: original };
      const want = llama3RopeDivisors(p, ropeTheta, headDim);
      const worst = Math.max(...want.map((w, i) => Math.abs(w - divisors[i]!) / w));
      best = Math.min(best, worst);
      if (worst < 1e-5) return { rope_type: 'llama3', ...p };
    }
  }
  throw new GgufFormatError(
    `${where}: rope_freqs.weight does not match Llama 3.1-style rope scaling with factor ${factor}, low/high frequency factors 1/4 and original context ${contexts.join(' or ')} (closest differs by ${best.toExponential(2)}); this rope scaling cannot be expressed in config.json`,
  );
}
