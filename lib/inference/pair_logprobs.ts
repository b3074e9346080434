// Pair scoring, for every caller (`logprobs`, eval's preference accuracy): the summed log-probs of
// a pair's chosen and rejected completions after its prompt, TRL's tokenization. One packed group
// per pair: its prompt once, chosen and rejected as its two branches (sequences 2i and 2i + 1).
import type { CausalLM } from '../model/causal_lm.js';
import { packSequences } from '../model/packing.js';
import type { TokenizedPair } from '../tokenize/preference_tokens.js';

export interface PairLogprobs {
  chosen: number;
  rejected: number;
}

/** Scores the pairs in one forward pass (the caller sizes the batch); one result per pair, in order. */
export async function pairLogprobs(lm: CausalLM, pairs: readonly TokenizedPair[]): Promise<PairLogprobs[]> {
  if (pairs.length === 0) return [];
  const packed = packSequences(pairs.map((p) => ({ prompt: p.promptIds, completions: [p.chosenIds, p.rejectedIds] })));
  const { sum } = await lm.sequenceLogprobs(packed);
  return pairs.map((_, i) => ({ chosen: sum[2 * i]!, rejected: sum[2 * i + 1]! }));
}
