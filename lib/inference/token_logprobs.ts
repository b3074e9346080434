// Per-token log-probs of a completion and the likeliest alternatives at each position: the model's
// own log-softmax of its logits (temperature 1, before any top-p/top-k), as OpenAI's `logprobs`
// report them. The logits come from one forward pass over prompt + completion (CausalLM.logits),
// the positions' distributions read in float64.
import type { CausalLM } from '../model/causal_lm.js';

export interface TokenChoice {
  id: number;
  logprob: number;
}

export interface TokenLogprob extends TokenChoice {
  /** The likeliest tokens at this position, best first (ties: lower id first). */
  top: TokenChoice[];
}

/**
 * The logits of every position are materialised ([tokens, vocab] float32), so a request is bounded
 * by this many floats (1 GiB). A native call that returns only chosen and top-k entries would lift it.
 */
export const MAX_LOGPROB_FLOATS = 2 ** 28;

/** Whether prompt + completion tokens fit the bound for a model of this vocabulary. */
export function logprobsFit(tokens: number, vocabSize: number): boolean {
  return tokens * vocabSize <= MAX_LOGPROB_FLOATS;
}

/** log-softmax of one row at `id`, and the row's `top` likeliest entries. */
export function rowLogprobs(row: Float32Array, id: number, top: number): TokenLogprob {
  let max = -Infinity;
  for (let v = 0; v < row.length; v++) if (row[v]! > max) max = row[v]!;
  let sum = 0;
  for (let v = 0; v < row.length; v++) sum += Math.exp(row[v]! - max);
  const lse = max + Math.log(sum);
  // A small sorted list (top ≤ 20): one pass over the vocabulary.
  const best: number[] = [];
  if (top > 0) {
    for (let v = 0; v < row.length; v++) {
      const x = row[v]!;
      if (best.length === top && x <= row[best[top - 1]!]!) continue;
      let at = best.length;
      while (at > 0 && row[best[at - 1]!]! < x) at--;
      best.splice(at, 0, v);
      if (best.length > top) best.pop();
    }
  }
  return { id, logprob: row[id]! - lse, top: best.map((v) => ({ id: v, logprob: row[v]! - lse })) };
}

/** For each token of `completion` after `context`: its log-prob and the `top` likeliest alternatives. */
export async function tokenLogprobs(lm: CausalLM, context: readonly number[], completion: readonly number[], top: number): Promise<TokenLogprob[]> {
  if (completion.length === 0) return [];
  if (context.length === 0) throw new RangeError('tokenLogprobs: the first token has no context to be scored from');
  const [rows] = await lm.logits([[...context, ...completion]]);
  return completion.map((id, i) => rowLogprobs(rows![context.length - 1 + i]!, id, top));
}
