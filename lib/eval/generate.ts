// Responses of a local model to a prompt set, appended to a crash-safe JSONL file (one row per
// prompt, resumable: a rerun generates only what is missing) with their lengths in characters and
// tokens — the paper's verbosity measure.
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { generateRows, generationKey, type GenerationRow } from '../inference/generation.js';
import type { SamplingSettings, TextGenerator } from '../inference/text_generator.js';
import { ResumableJournals } from '../jobs/resumable_job.js';
import type { PromptFormat } from '../tokenize/prompt_format.js';
import type { PromptItem } from './prompts.js';
import { distribution, type Distribution } from './stats.js';

export interface GenerationStats {
  count: number;
  chars: Distribution;
  tokens: Distribution;
  /** Responses cut off by maxNewTokens. */
  truncated: number;
}

export interface GenerateOptions {
  generator: TextGenerator;
  prompts: readonly PromptItem[];
  outFile: string;
  sampling: SamplingSettings;
  /** How prompts become tokens (tokenize/prompt_format.ts): the format the model was trained with. */
  promptFormat: PromptFormat;
  /** Prompts per generate call (greedy decoding; inference/generation.ts). */
  batchSize?: number;
  log?: (line: string) => void;
}

/** Generates what is missing from `outFile`; returns the rows for `prompts`, in their order. */
export async function generateResponses(options: GenerateOptions): Promise<{ rows: GenerationRow[]; generated: number; skipped: number }> {
  const { generator, sampling } = options;
  const log = options.log ?? ((line) => process.stderr.write(line + '\n'));
  const journals = ResumableJournals.open([options.outFile], 'that response is redone', log);
  const journal = journals.journals[0]!;
  const done = new Map<string, GenerationRow>();
  let generated = 0;
  try {
    for (const row of journals.rows[0]!) {
      const r = row as Partial<GenerationRow>;
      if (typeof r.key === 'string' && typeof r.response === 'string') done.set(r.key, r as GenerationRow);
    }
    // A prompt's index is its place in the whole prompt set, so a resumed run samples what a fresh one would.
    const keyed = options.prompts.map((item, index) => ({ item, index, key: generationKey(generator.model.dir, item, sampling, options.promptFormat) }));
    const todo = keyed.filter((k) => !done.has(k.key));
    await generateRows(generator, todo, {
      sampling,
      promptFormat: options.promptFormat,
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      onRows: (rows) => {
        for (const row of rows) {
          journal.append(row);
          done.set(row.key, row);
          generated++;
        }
        journal.sync();
      },
    });
    return { rows: keyed.map((k) => done.get(k.key)!), generated, skipped: keyed.length - todo.length };
  } finally {
    journals.close();
  }
}

export function generationStats(rows: readonly Pick<GenerationRow, 'response' | 'tokens' | 'finishReason'>[]): GenerationStats {
  return {
    count: rows.length,
    chars: distribution(rows.map((r) => [...r.response].length)),
    tokens: distribution(rows.map((r) => r.tokens)),
    truncated: rows.filter((r) => r.finishReason === 'length').length,
  };
}

/** Reads a generation file (rows with `id` and `response`; `prompt` and `tokens` optional). */
export function readGenerations(file: string): Map<string, Partial<GenerationRow> & { id: string; response: string }> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the generation file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const out = new Map<string, Partial<GenerationRow> & { id: string; response: string }>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch {
      if (i === lines.length - 1) return; // a torn last line from an interrupted run
      throw new UsageError(`${file}:${i + 1} is not valid JSON`);
    }
    const id = typeof row.id === 'number' ? String(row.id) : row.id;
    // `output`: the key `generate` wrote before it wrote these rows; such files still read.
    const response = row.response ?? row.output;
    if (typeof id !== 'string' || typeof response !== 'string') {
      throw new UsageError(`${file}:${i + 1}: a generation row needs \`id\` and \`response\` (or \`output\`) strings`);
    }
    out.set(id, { ...(row as Partial<GenerationRow>), id, response });
  });
  return out;
}
