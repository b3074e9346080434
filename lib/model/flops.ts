// The FLOP count and the MFU of training, one rule for the trainer's metrics and the bench (and
// shared in meaning with bench/trl_peer.py).
//
// Convention: a token costs 2·N FLOPs through a forward pass and 4·N through the backward, where N
// counts the parameters that take part in matmuls per token — every linear weight of the decoder
// layers plus the LM head (tied or not; the embedding lookup is not a matmul). Attention-score
// FLOPs (O(seq²)) and norms are left out, as in the usual "6N" convention. So a trained token is 6·N
// and a token the reference model scores is 2·N more, whether it ran in the timed window or was
// precomputed (its time is then charged to the window too).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NativeModelConfig } from '../native/binding.js';

/** The matmul shapes of a decoder; a loaded model's config (CausalLM.config) is one. */
export type DecoderShape = Pick<NativeModelConfig, 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'vocabSize'> & {
  /** GPT-2's MLP has two matrices (up, down); the gated ones of the other families three. */
  modelType?: string;
};

function positiveInt(cfg: Record<string, unknown>, key: string, source: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`${source}: "${key}" must be a positive integer (got ${JSON.stringify(cfg[key])})`);
  }
  return v;
}

/** The decoder shape of a Llama-style Hugging Face config.json (llama, mistral, qwen2). */
export function decoderShape(cfg: Record<string, unknown>, source = 'config.json'): DecoderShape {
  const numHeads = positiveInt(cfg, 'num_attention_heads', source);
  const hiddenSize = positiveInt(cfg, 'hidden_size', source);
  return {
    hiddenSize,
    intermediateSize: positiveInt(cfg, 'intermediate_size', source),
    numLayers: positiveInt(cfg, 'num_hidden_layers', source),
    numHeads,
    numKvHeads: positiveInt(cfg, 'num_key_value_heads', source, numHeads),
    headDim: positiveInt(cfg, 'head_dim', source, Math.floor(hiddenSize / numHeads)),
    vocabSize: positiveInt(cfg, 'vocab_size', source),
  };
}

export function readDecoderShape(modelDir: string): DecoderShape {
  const file = path.join(modelDir, 'config.json');
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot read the model config (${(err as Error).message}); --model must be a Hugging Face model directory`);
  }
  if (typeof cfg !== 'object' || cfg === null) throw new Error(`${file}: not a JSON object`);
  return decoderShape(cfg as Record<string, unknown>, file);
}

/** N of the convention above. */
export function matmulParams(s: DecoderShape): number {
  const q = s.hiddenSize * s.numHeads * s.headDim;
  const kv = 2 * s.hiddenSize * s.numKvHeads * s.headDim;
  const o = s.numHeads * s.headDim * s.hiddenSize;
  const mlp = (s.modelType === 'gpt2' ? 2 : 3) * s.hiddenSize * s.intermediateSize;
  return s.numLayers * (q + kv + o + mlp) + s.vocabSize * s.hiddenSize;
}

export interface TokenCounts {
  /** tokens trained through the policy (forward + backward) */
  trained: number;
  /** tokens the reference model forwarded for the same pairs */
  reference: number;
  /** tokens trained through a frozen base (LoRA): forward + the input gradient, no weight gradient;
   * the adapters' own FLOPs (a few percent at usual ranks) are left out */
  frozen?: number;
}

export function trainingFlops(n: number, tokens: TokenCounts): number {
  return 6 * n * tokens.trained + 2 * n * tokens.reference + 4 * n * (tokens.frozen ?? 0);
}

/**
 * Model FLOPs utilization: the convention's FLOPs for the tokens of a window over what the measured
 * matmul peak could have done in it. Which tokens count is the caller's (the trainer: the rows it
 * computed; the bench: TRL's count, and separately the rows computed). The peak must be measured in
 * the dtype the matmuls really run in (model/compute_dtype.ts peakDtype). A ratio above 1 means the
 * denominator is not the ceiling (an emulated-dtype "peak", a peak measured under load): it is no
 * utilisation, so the answer is null (not applicable) rather than a figure over 100%.
 */
export function modelFlopsUtilization(o: { matmulParams: number; tokens: TokenCounts; seconds: number; peakFlopsPerSec: number }): number | null {
  const mfu = trainingFlops(o.matmulParams, o.tokens) / o.seconds / o.peakFlopsPerSec;
  return Number.isFinite(mfu) && mfu >= 0 && mfu <= 1 ? mfu : null;
}
