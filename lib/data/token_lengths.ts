// Token-length statistics of loaded pairs. The tokenizer is used in one place, `loadTokenCounter`,
// and counts plain content tokens (no chat template, no special tokens): the real rendered
// sequence is a few template tokens longer per turn.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { PreferencePair } from './schema.js';
import { PreferenceDataError } from './errors.js';
import { promptText } from './conversation.js';

export interface TokenCounter {
  count(text: string): number;
}

/** A token counter from `dir/tokenizer.json` (and `dir/tokenizer_config.json` when present). */
export async function loadTokenCounter(dir: string): Promise<TokenCounter> {
  const read = async (name: string, required: boolean): Promise<object | undefined> => {
    const file = path.join(dir, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new PreferenceDataError(`${file}: not found; --model needs a model directory holding the Hugging Face tokenizer.json`, { file });
      }
      throw err;
    }
    try {
      return JSON.parse(text) as object;
    } catch (err) {
      throw new PreferenceDataError(`${file}: not valid JSON (${(err as Error).message})`, { file });
    }
  };
  const tokenizerJson = (await read('tokenizer.json', true))!;
  const config = (await read('tokenizer_config.json', false)) ?? {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, config);
  } catch (err) {
    throw new PreferenceDataError(`${path.join(dir, 'tokenizer.json')}: not a tokenizer this package can load (${(err as Error).message})`, { file: dir });
  }
  return { count: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids.length };
}

export interface LengthStats {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface TokenLengthReport {
  maxLength: number;
  prompt: LengthStats;
  chosen: LengthStats;
  rejected: LengthStats;
  /** Only over the pairs that have a rationale; absent when none has. */
  rationale?: LengthStats;
  /** Pairs where prompt + the longer response exceeds maxLength (they would be truncated). */
  truncatedPairs: number;
  /** Pairs where the rationale sequence (prompt + chosen + rejected + rationale) exceeds maxLength. */
  truncatedRationales: number;
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function lengthStats(values: readonly number[]): LengthStats {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 };
}

export function tokenLengthReport(pairs: readonly PreferencePair[], counter: TokenCounter, maxLength: number): TokenLengthReport {
  const prompt: number[] = [];
  const chosen: number[] = [];
  const rejected: number[] = [];
  const rationale: number[] = [];
  let truncatedPairs = 0;
  let truncatedRationales = 0;
  for (const p of pairs) {
    const lp = counter.count(promptText(p.prompt, p.system));
    const lc = counter.count(p.chosen);
    const lr = counter.count(p.rejected);
    prompt.push(lp);
    chosen.push(lc);
    rejected.push(lr);
    if (lp + Math.max(lc, lr) > maxLength) truncatedPairs += 1;
    if (p.rationale !== undefined) {
      const la = counter.count(p.rationale);
      rationale.push(la);
      if (lp + lc + lr + la > maxLength) truncatedRationales += 1;
    }
  }
  return {
    maxLength,
    prompt: lengthStats(prompt),
    chosen: lengthStats(chosen),
    rejected: lengthStats(rejected),
    ...(rationale.length > 0 ? { rationale: lengthStats(rationale) } : {}),
    truncatedPairs,
    truncatedRationales,
  };
}
