// A rationale is asked for with a token budget (--max-new-tokens), but a server may ignore it and
// send 100k words; that text would be stored whole and then dominate the rationale loss. It is cut
// to the budget here, counted with a tokenizer when one is given (`rationales --tokenizer`, the
// policy's: its tokens are the ones training counts), else estimated.
import type { Tokenizer } from '../tokenize/tokenizer.js';

/** What the cut needs of a tokenizer (tokenize/tokenizer.ts's Tokenizer has it). */
export type BudgetTokenizer = Pick<Tokenizer, 'encode' | 'decode' | 'origin'>;

/** Characters per token assumed by the estimate (English BPE text runs about 4). */
const CHARS_PER_TOKEN = 4;
/** A token longer than this many characters is taken to be absent (the text is encoded in a prefix). */
const MAX_TOKEN_CHARS = 64;

/** `text` if it fits `maxTokens`, else its first `maxTokens` tokens and a note saying so. */
export function cutToTokenBudget(text: string, maxTokens: number, tokenizer?: BudgetTokenizer): { text: string; note?: string } {
  if (tokenizer) {
    // Encode only a prefix long enough to hold the budget: a 100k-word answer is not tokenized whole.
    const head = text.length > maxTokens * MAX_TOKEN_CHARS ? text.slice(0, maxTokens * MAX_TOKEN_CHARS) : text;
    let ids = tokenizer.encode(head, { addSpecialTokens: false });
    if (ids.length <= maxTokens && head !== text) ids = tokenizer.encode(text, { addSpecialTokens: false });
    if (ids.length <= maxTokens) return { text };
    return {
      text: tokenizer.decode(ids.slice(0, maxTokens), { skipSpecialTokens: false }).trimEnd(),
      note: `cut to its first ${maxTokens} tokens (--max-new-tokens), counted with the tokenizer of ${tokenizer.origin}; the answer had ${text.length} characters`,
    };
  }
  // The estimate: a word costs one token per CHARS_PER_TOKEN characters (at least one), and every
  // other non-space character one token.
  const piece = /\s*(?:[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}])/gu;
  let used = 0;
  let end = 0;
  for (let m = piece.exec(text); m !== null; m = piece.exec(text)) {
    const cost = Math.max(1, Math.ceil(m[0].trim().length / CHARS_PER_TOKEN));
    if (used + cost > maxTokens) {
      return {
        text: text.slice(0, end).trimEnd(),
        note: `cut to about ${maxTokens} tokens (--max-new-tokens), estimated at ${CHARS_PER_TOKEN} characters a token (give --tokenizer to count exactly); the answer had ${text.length} characters`,
      };
    }
    used += cost;
    end = piece.lastIndex;
  }
  return { text };
}
