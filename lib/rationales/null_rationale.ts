// The null-rationale control (docs/demo.md, docs/results.md): the same loss and the same pairs, with each
// rationale replaced by content-free text of the same token length. RDPO against this arm separates what
// a rationale *says* from what any extra likelihood term of that size does to training.
import type { PreferencePair } from '../data/schema.js';

/** Anything that counts a text's tokens as training will (no special tokens added). */
export type TokenCounter = (text: string) => number;

const WORD = ' the';
const PAD = '.';

/**
 * Content-free text of exactly `tokens` tokens: the word " the" repeated, padded with full stops.
 * Throws a RangeError when the tokenizer cannot hit the count exactly with these pieces.
 */
export function nullRationaleText(tokens: number, count: TokenCounter): string {
  if (!Number.isInteger(tokens) || tokens < 1) throw new RangeError(`null rationale: token count must be a positive integer, got ${tokens}`);
  const perWord = Math.max(1, count(WORD.repeat(8)) / 8);
  for (let words = Math.floor(tokens / perWord); words >= 0; words--) {
    let text = WORD.repeat(words).trimStart();
    while (count(text) < tokens) text += PAD;
    if (count(text) === tokens) return text;
  }
  throw new RangeError(`null rationale: no text of " the" and "." has exactly ${tokens} tokens under this tokenizer`);
}

/** The same pairs with each rationale replaced by its null text; pairs without a rationale are kept as they are. */
export function withNullRationales(pairs: readonly PreferencePair[], count: TokenCounter): PreferencePair[] {
  const cache = new Map<number, string>();
  return pairs.map((p) => {
    if (p.rationale === undefined) return p;
    const n = count(p.rationale);
    let text = cache.get(n);
    if (text === undefined) cache.set(n, (text = nullRationaleText(n, count)));
    return { ...p, rationale: text, meta: { ...p.meta, nullRationaleOf: n } };
  });
}
