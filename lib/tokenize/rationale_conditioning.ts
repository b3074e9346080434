// The rationale sequence RDPO trains on: log π(r | x, y_w ≻ y_l). As in the authors' code
// (reds-lab/preference-learning-with-rationales, dataloader.py), one user turn shows the prompt, asks
// which assistant response is more preferable and strictly follows the prompt, and shows the chosen
// response labelled "above" and the rejected one labelled "below" — the order carries the preference,
// no explicit label. The rationale is the assistant's answer (end-of-turn and EOS included).
// The wording below is ours; every slot of theirs is kept.
import type { ChatMessage } from '../data/schema.js';
import type { RationaleText } from '../data/rationale_row.js';
import type { Tokenizer } from './tokenizer.js';
import { applyChatTemplate, renderPlainChat, type ChatTurn } from './chat_template.js';
import { splitAtCommonPrefix, type WarnFn, warnToStderr } from './preference_tokens.js';

/** A group with one branch: the conditioning prompt (trunk) and the rationale (branch). */
export interface TokenizedRationale {
  promptIds: number[];
  rationaleIds: number[];
}

/** The user turn that conditions the rationale. `prompt` is the original prompt as text. */
export function rationaleQuestion(prompt: string, chosen: string, rejected: string): string {
  return (
    `Here is a prompt:\n${prompt}\n\n` +
    `Of the two assistant responses that follow, which one is more preferable and sticks strictly to the prompt?\n\n` +
    `Response above:\n"${chosen}"\n\nor\n\nResponse below:\n"${rejected}"`
  );
}

/** A multi-turn prompt shown inside the question: its turns as `Role: content` (no EOS). */
function promptText(prompt: string | readonly ChatMessage[]): string {
  return typeof prompt === 'string' ? prompt : renderPlainChat(prompt, null);
}

export interface RationaleTokenizeOptions {
  /** Longest conditioning prompt + rationale, in tokens. The rationale is never cut. */
  maxLength?: number;
}

export interface RationaleRowResult {
  value: TokenizedRationale | null;
  truncated: boolean;
  promptNotPrefix: boolean;
}

function encodeConditioned(tokenizer: Tokenizer, question: string, rationale: string, system: string | undefined) {
  const turns: ChatTurn[] = [];
  if (system !== undefined) turns.push({ role: 'system', content: system });
  turns.push({ role: 'user', content: question });
  const promptIds = applyChatTemplate(tokenizer, turns, { addGenerationPrompt: true });
  const fullIds = applyChatTemplate(tokenizer, [...turns, { role: 'assistant', content: rationale }]);
  const split = splitAtCommonPrefix(tokenizer, promptIds, [fullIds]);
  const rationaleIds = split.completions[0]!;
  // The completion ends with EOS: templates whose end-of-turn is not the EOS token get it appended.
  const eos = tokenizer.eosTokenId;
  if (eos !== null && !rationaleIds.some((id) => tokenizer.eosTokenIds.includes(id))) rationaleIds.push(eos);
  return { promptIds: split.promptIds, rationaleIds, promptNotPrefix: split.promptNotPrefix };
}

/** Shrink (a, b) by `k` in total, taking from the longer first, then evenly. */
function shrinkPair(a: number, b: number, k: number): [number, number] {
  while (k > 0 && (a > 0 || b > 0)) {
    if (a > b) {
      const d = Math.min(k, a - b);
      a -= d;
      k -= d;
    } else if (b > a) {
      const d = Math.min(k, b - a);
      b -= d;
      k -= d;
    } else {
      const half = Math.ceil(k / 2);
      a = Math.max(0, a - half);
      b = Math.max(0, b - (k - half));
      k = 0;
    }
  }
  return [a, b];
}

/**
 * Tokenize one row. Over `maxLength`, the responses are trimmed first (the longer one first, each keeping
 * its first tokens), then the prompt (keeping its first tokens, as the authors' code kept the first 1024);
 * the rationale stays whole. A row whose rationale alone does not fit is left out (null).
 */
export function tokenizeRationaleRow(tokenizer: Tokenizer, row: RationaleText, opts: RationaleTokenizeOptions = {}): RationaleRowResult {
  const { maxLength } = opts;
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1))
    throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
  const originals = [promptText(row.prompt), row.chosen, row.rejected] as const;
  const [p, c, r] = originals.map((s) => tokenizer.encode(s, { addSpecialTokens: false })) as [number[], number[], number[]];
  // A piece kept whole is the original text; a trimmed one is its first `keep` tokens, decoded.
  const text = (i: 0 | 1 | 2, ids: number[], keep: number) => (keep >= ids.length ? originals[i] : tokenizer.decode(ids.slice(0, keep)));
  const build = (pk: number, ck: number, rk: number) =>
    encodeConditioned(tokenizer, rationaleQuestion(text(0, p, pk), text(1, c, ck), text(2, r, rk)), row.rationale, row.system);

  let keep = [p.length, c.length, r.length] as [number, number, number];
  let out = build(...keep);
  const total = () => out.promptIds.length + out.rationaleIds.length;
  if (maxLength === undefined || total() <= maxLength) {
    return { value: { promptIds: out.promptIds, rationaleIds: out.rationaleIds }, truncated: false, promptNotPrefix: out.promptNotPrefix };
  }
  // Re-encoding trimmed text is not exactly additive, so iterate on the remaining excess.
  for (let iter = 0; iter < 16 && total() > maxLength; iter++) {
    let excess = total() - maxLength;
    const [pk, ck, rk] = keep;
    const [ck2, rk2] = shrinkPair(ck, rk, excess);
    excess -= ck - ck2 + (rk - rk2);
    const pk2 = Math.max(0, pk - Math.max(0, excess));
    if (pk2 === pk && ck2 === ck && rk2 === rk) break; // nothing left to trim
    keep = [pk2, ck2, rk2];
    out = build(...keep);
  }
  if (total() > maxLength) return { value: null, truncated: true, promptNotPrefix: out.promptNotPrefix };
  return { value: { promptIds: out.promptIds, rationaleIds: out.rationaleIds }, truncated: true, promptNotPrefix: out.promptNotPrefix };
}

export interface TokenizedRationales {
  /** `index` is the row's position in the input; rows left out are missing. */
  items: (TokenizedRationale & { index: number })[];
  stats: { rows: number; truncated: number; dropped: number; promptNotPrefix: number };
}

/** Tokenize a dataset's rationales; one warning summarises truncated and dropped rows. */
export function tokenizeRationales(
  tokenizer: Tokenizer,
  rows: Iterable<RationaleText>,
  opts: RationaleTokenizeOptions & { warn?: WarnFn } = {},
): TokenizedRationales {
  const stats = { rows: 0, truncated: 0, dropped: 0, promptNotPrefix: 0 };
  const items: (TokenizedRationale & { index: number })[] = [];
  for (const row of rows) {
    const index = stats.rows++;
    const res = tokenizeRationaleRow(tokenizer, row, opts);
    if (res.truncated) stats.truncated++;
    if (res.promptNotPrefix) stats.promptNotPrefix++;
    if (res.value === null) stats.dropped++;
    else items.push({ ...res.value, index });
  }
  const warn = opts.warn ?? warnToStderr;
  if (stats.truncated > 0) {
    warn(
      `${stats.truncated} of ${stats.rows} rationale rows exceeded maxLength ${opts.maxLength}: responses (then the prompt) were trimmed` +
        (stats.dropped ? `; ${stats.dropped} left out because the rationale alone does not fit` : ''),
    );
  }
  if (stats.promptNotPrefix > 0) {
    warn(
      `${stats.promptNotPrefix} of ${stats.rows} rationale rows: the conditioning prompt's tokens are not a prefix of the full sequence; split at the common prefix`,
    );
  }
  return { items, stats };
}
