// Preference pairs → token ids, with TRL's DPOTrainer conventions (checked against TRL's own
// `_prepare_dataset` output in test/preference_tokens.test.ts):
//
// Which rows go through the chat template is decided by the one prompt-format rule (prompt_format.ts):
// `chat` (the default for a tokenizer with a template) renders a text prompt as a user turn; `plain` is TRL's
// convention, below.
//
// * Plain text rows: the EOS token text is appended to each completion unless it already ends with it;
//   then `tok(prompt)`, `tok(prompt + chosen)`, `tok(prompt + rejected)` with the tokenizer's usual special
//   tokens (so a Llama-3 BOS is there, a GPT-2/SmolLM2 tokenizer adds none).
// * Conversational rows: the chat template with `add_generation_prompt=True` for the prompt and the whole
//   conversation (prompt + one assistant turn) for each sequence, encoded without special tokens (the
//   template writes its own BOS). No EOS is appended: the template's end-of-turn closes the completion.
// * The completion is what follows the longest common prefix of the prompt's tokens and *both* sequences
//   (tokens can merge across the boundary, or a template can render the prompt alone differently): the
//   prompt is cut to that prefix. Such rows are counted and reported once per run.
import type { ChatMessage } from '../data/schema.js';
import type { Tokenizer } from './tokenizer.js';
import { applyChatTemplate } from './chat_template.js';
import { encodePrompt, plainPromptText, promptTurns, resolvePromptFormat, usesTemplate, type PromptFormatSetting } from './prompt_format.js';

/** What the packing layer consumes: one trunk (the prompt) and two branches (completions, EOS included). */
export interface TokenizedPair {
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
}

export interface PreferenceRow {
  prompt: string | readonly ChatMessage[];
  chosen: string;
  rejected: string;
  /** Chat: a leading system turn (unless the messages start with one). Plain: prepended as `system\n\n`. */
  system?: string;
}

export type TruncationMode = 'keep_start' | 'keep_end';

export interface PreferenceTokenizeOptions {
  /**
   * The prompt-format rule (prompt_format.ts): `auto` (default) is `chat` when the tokenizer has a chat
   * template, else `plain`; `chat` renders a text prompt as one user turn; `plain` is TRL's convention
   * (text prompts as text, message lists through the template).
   */
  format?: PromptFormatSetting;
  /** Longest prompt + completion, in tokens. */
  maxLength?: number;
  /** When prompt + longer completion exceeds `maxLength`, the prompt is first cut to this many tokens. */
  maxPromptLength?: number;
  /**
   * Which end of an over-long prompt survives `maxPromptLength`: `keep_end` (default; the turns nearest the
   * answer) or `keep_start`. Completions always keep their start. This is TRL's (≤ 0.11) and HALOs' rule,
   * which the RDPO authors' code inherits; see `truncatePair`.
   */
  truncationMode?: TruncationMode;
}

/** Per-row result: the pair, or null when it cannot fit `maxLength` at all. */
export interface TokenizedRowResult {
  pair: TokenizedPair | null;
  /** The prompt's tokens were not a prefix of a sequence's; the prompt was cut to the common prefix. */
  promptNotPrefix: boolean;
  /** The prompt tokens that were left out (decoded), for the warning. */
  leftOut?: string;
  truncated: boolean;
}

/** Number of leading tokens the two sequences share. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Split sequences that share a prompt into trunk + branches at their common prefix (TRL's rule). */
export function splitAtCommonPrefix(
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  sequences: readonly (readonly number[])[],
): { promptIds: number[]; completions: number[][]; promptNotPrefix: boolean; leftOut?: string } {
  const cut = Math.min(...sequences.map((s) => commonPrefixLength(promptIds, s)));
  const promptNotPrefix = cut < promptIds.length;
  return {
    promptIds: promptIds.slice(0, cut),
    completions: sequences.map((s) => s.slice(cut)),
    promptNotPrefix,
    ...(promptNotPrefix ? { leftOut: tokenizer.decode(promptIds.slice(cut)) } : {}),
  };
}

/**
 * Apply `maxLength` / `maxPromptLength` to a tokenized pair. When prompt + the longer completion exceeds
 * `maxLength`: (1) a prompt longer than `maxPromptLength` is cut to it (first or last tokens by `mode`);
 * (2) if still too long, both completions keep their first `maxLength − prompt` tokens. Returns null when
 * not even one completion token fits.
 */
export function truncatePair(
  pair: TokenizedPair,
  opts: Pick<PreferenceTokenizeOptions, 'maxLength' | 'maxPromptLength' | 'truncationMode'>,
): { pair: TokenizedPair | null; truncated: boolean } {
  const { maxLength, maxPromptLength } = opts;
  const mode = opts.truncationMode ?? 'keep_end';
  if (maxLength === undefined) return { pair, truncated: false };
  let { promptIds, chosenIds, rejectedIds } = pair;
  const longer = () => Math.max(chosenIds.length, rejectedIds.length);
  if (promptIds.length + longer() <= maxLength) return { pair, truncated: false };
  if (maxPromptLength !== undefined && promptIds.length > maxPromptLength) {
    promptIds = mode === 'keep_start' ? promptIds.slice(0, maxPromptLength) : promptIds.slice(promptIds.length - maxPromptLength);
  }
  if (promptIds.length + longer() > maxLength) {
    const room = maxLength - promptIds.length;
    if (room < 1) return { pair: null, truncated: true };
    chosenIds = chosenIds.slice(0, room);
    rejectedIds = rejectedIds.slice(0, room);
  }
  return { pair: { promptIds, chosenIds, rejectedIds }, truncated: true };
}

function checkOptions(opts: PreferenceTokenizeOptions): void {
  for (const k of ['maxLength', 'maxPromptLength'] as const) {
    const v = opts[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }
  if (opts.truncationMode !== undefined && opts.truncationMode !== 'keep_start' && opts.truncationMode !== 'keep_end') {
    throw new RangeError(`truncationMode must be 'keep_start' or 'keep_end', got ${JSON.stringify(opts.truncationMode)}`);
  }
}

/** Tokenize one preference row (see the file comment for the conventions). */
export function tokenizePreferenceRow(tokenizer: Tokenizer, row: PreferenceRow, opts: PreferenceTokenizeOptions = {}): TokenizedRowResult {
  checkOptions(opts);
  const format = resolvePromptFormat(tokenizer, opts.format ?? 'auto');
  const promptIds = encodePrompt(tokenizer, row.prompt, format, row.system);
  let sequences: number[][];
  if (usesTemplate(row.prompt, format)) {
    const turns = promptTurns(row.prompt, row.system);
    sequences = [row.chosen, row.rejected].map((c) => applyChatTemplate(tokenizer, [...turns, { role: 'assistant', content: c }]));
  } else {
    const prompt = plainPromptText(row.prompt as string, row.system);
    const eos = tokenizer.eosToken;
    if (eos === null) throw new TypeError(`${tokenizer.origin}: the tokenizer has no eos_token, which plain-text preference rows need`);
    const withEos = (c: string) => (c.endsWith(eos) ? c : c + eos);
    sequences = [row.chosen, row.rejected].map((c) => tokenizer.encode(prompt + withEos(c)));
  }
  const split = splitAtCommonPrefix(tokenizer, promptIds, sequences);
  const full: TokenizedPair = { promptIds: split.promptIds, chosenIds: split.completions[0]!, rejectedIds: split.completions[1]! };
  const { pair, truncated } = truncatePair(full, opts);
  return { pair, truncated, promptNotPrefix: split.promptNotPrefix, ...(split.leftOut !== undefined ? { leftOut: split.leftOut } : {}) };
}

export interface PreferenceTokenizeStats {
  rows: number;
  /** Rows whose prompt tokens were not a prefix of the sequence tokens. */
  promptNotPrefix: number;
  truncated: number;
  /** Rows left out: not one completion token fits `maxLength`. */
  dropped: number;
}

export interface TokenizedPreferences {
  /** `index` is the row's position in the input. */
  pairs: (TokenizedPair & { index: number })[];
  stats: PreferenceTokenizeStats;
}

/** Where run-level warnings go (stderr by default). */
export type WarnFn = (message: string) => void;
export const warnToStderr: WarnFn = (m) => process.stderr.write(`rdpo-native: warning: ${m}\n`);

/** Tokenize a dataset; one warning at the end summarises prefix mismatches, truncations and drops. */
export function tokenizePreferences(
  tokenizer: Tokenizer,
  rows: Iterable<PreferenceRow>,
  opts: PreferenceTokenizeOptions & { warn?: WarnFn } = {},
): TokenizedPreferences {
  const stats: PreferenceTokenizeStats = { rows: 0, promptNotPrefix: 0, truncated: 0, dropped: 0 };
  const pairs: (TokenizedPair & { index: number })[] = [];
  let example: { index: number; leftOut: string } | undefined;
  for (const row of rows) {
    const index = stats.rows++;
    const r = tokenizePreferenceRow(tokenizer, row, opts);
    if (r.promptNotPrefix) {
      stats.promptNotPrefix++;
      example ??= { index, leftOut: r.leftOut ?? '' };
    }
    if (r.truncated) stats.truncated++;
    if (r.pair === null) stats.dropped++;
    else pairs.push({ ...r.pair, index });
  }
  const warn = opts.warn ?? warnToStderr;
  if (example) {
    warn(
      `${stats.promptNotPrefix} of ${stats.rows} rows: the prompt's tokens are not a prefix of prompt+completion ` +
        `(tokens merge across the boundary, or the chat template renders the prompt alone differently); the ` +
        `completion starts where they diverge, leaving out e.g. ${JSON.stringify(example.leftOut)} (row ${example.index}). ` +
        `End prompts on a token boundary (e.g. a trailing space belongs to the completion) to avoid it.`,
    );
  }
  if (stats.truncated > 0) {
    warn(
      `${stats.truncated} of ${stats.rows} rows were truncated to maxLength ${opts.maxLength}${stats.dropped ? `; ${stats.dropped} left out (the prompt alone fills it)` : ''}`,
    );
  }
  return { pairs, stats };
}
