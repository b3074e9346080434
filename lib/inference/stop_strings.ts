// Cutting generated text at stop strings. Generation itself stops at EOS ids; stop strings are
// found in the decoded text, which is cut before the first one. The token count is the shortest
// prefix of the generated tokens whose text already contains that stop string.
import type { Tokenizer } from '../tokenize/tokenizer.js';

export interface CutOutput {
  text: string;
  /** Generated tokens kept (a final EOS is not counted). */
  tokens: number;
  stoppedBy: 'eos' | 'stop' | 'length';
}

function firstStop(text: string, stops: readonly string[]): number {
  let at = -1;
  for (const s of stops) {
    const i = s.length ? text.indexOf(s) : -1;
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at;
}

/** Decode generated ids (EOS removed), cut at the earliest stop string. */
export function cutAtStops(tokenizer: Tokenizer, generated: readonly number[], eosIds: readonly number[], stops: readonly string[]): CutOutput {
  let ids = [...generated];
  let stoppedBy: CutOutput['stoppedBy'] = 'length';
  const eosAt = ids.findIndex((id) => eosIds.includes(id));
  if (eosAt >= 0) {
    ids = ids.slice(0, eosAt);
    stoppedBy = 'eos';
  }
  const text = tokenizer.decode(ids, { skipSpecialTokens: true });
  const at = firstStop(text, stops);
  if (at < 0) return { text, tokens: ids.length, stoppedBy };
  // Smallest k whose decoded prefix contains a stop (monotone in k, so a binary search).
  let lo = 1;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (firstStop(tokenizer.decode(ids.slice(0, mid), { skipSpecialTokens: true }), stops) >= 0) hi = mid;
    else lo = mid + 1;
  }
  return { text: text.slice(0, at), tokens: lo, stoppedBy: 'stop' };
}
