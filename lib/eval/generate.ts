// Responses of a local model to a prompt set, appended to a crash-safe JSONL file (one row per
// prompt, resumable: a rerun generates only what is missing) with their lengths in characters and
// tokens — the paper's verbosity measure.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { SamplingSettings, TextGenerator } from '../inference/text_generator.js';
import { Journal } from '../jobs/journal.js';
import type { PromptFormat } from '../tokenize/prompt_format.js';
import type { Conversation } from './judge_prompt.js';
import type { PromptItem } from './prompts.js';
import { distribution, type Distribution } from './stats.js';

/** One line of a generation file; also what `eval --model-a FILE.jsonl` reads. */
export interface GenerationRow {
  key: string;
  id: string;
  prompt: Conversation;
  response: string;
  model: string;
  /** Response tokens, EOS excluded. */
  tokens: number;
  /** `stop`: the model ended; `length`: it hit maxNewTokens. */
  finishReason: 'stop' | 'length';
}

export interface GenerationStats {
  count: number;
  chars: Distribution;
  tokens: Distribution;
  /** Responses cut off by maxNewTokens. */
  truncated: number;
}

export function generationKey(modelDir: string, item: PromptItem, s: SamplingSettings, format: PromptFormat = 'chat'): string {
  const text = typeof item.prompt === 'string' ? item.prompt : item.prompt.map((m) => [m.role, m.content]);
  // A system text kept beside the prompt hashes as the leading system turn it renders as under chat.
  const prompt = item.system === undefined ? text : [['system', item.system], ...(typeof text === 'string' ? [['user', text]] : text)];
  return createHash('sha256')
    .update(
      JSON.stringify([
        resolve(modelDir),
        item.id,
        prompt,
        s.maxNewTokens,
        s.temperature,
        s.topP ?? 1,
        s.topK ?? 0,
        s.seed ?? 0,
        ...(format === 'plain' ? ['plain'] : []),
      ]),
    )
    .digest('hex');
}

export interface GenerateOptions {
  generator: TextGenerator;
  prompts: readonly PromptItem[];
  outFile: string;
  sampling: SamplingSettings;
  /** How prompts become tokens (tokenize/prompt_format.ts): the format the model was trained with. */
  promptFormat: PromptFormat;
  /** Prompts per generate call. */
  batchSize?: number;
  log?: (line: string) => void;
}

/** Generates what is missing from `outFile`; returns the rows for `prompts`, in their order. */
export async function generateResponses(options: GenerateOptions): Promise<{ rows: GenerationRow[]; generated: number; skipped: number }> {
  const { generator, sampling } = options;
  const model = generator.model;
  const log = options.log ?? ((line) => process.stderr.write(line + '\n'));
  const batchSize = options.batchSize ?? 8;
  const { journal, rows, tornBytes } = Journal.open(options.outFile);
  const done = new Map<string, GenerationRow>();
  let generated = 0;
  try {
    if (tornBytes > 0) log(`${options.outFile}: cut off a torn last line (${tornBytes} bytes); that response is redone`);
    for (const row of rows) {
      const r = row as Partial<GenerationRow>;
      if (typeof r.key === 'string' && typeof r.response === 'string') done.set(r.key, r as GenerationRow);
    }
    const keyed = options.prompts.map((item) => ({ item, key: generationKey(model.dir, item, sampling, options.promptFormat) }));
    const todo = keyed.filter((k) => !done.has(k.key));
    for (let start = 0; start < todo.length; start += batchSize) {
      const batch = todo.slice(start, start + batchSize);
      const outputs = await generator.generate(
        batch.map(({ item }) => ({ promptIds: generator.encode(item.prompt, options.promptFormat, item.system) })),
        // One seed per batch position in the whole run, so that a resumed run samples like a fresh one would for the same batch.
        { ...sampling, seed: (sampling.seed ?? 0) + start },
      );
      batch.forEach(({ item, key }, i) => {
        const out = outputs[i]!;
        const row: GenerationRow = {
          key,
          id: item.id,
          prompt: item.prompt,
          response: out.text,
          model: model.name,
          tokens: out.tokens,
          finishReason: out.stoppedBy === 'length' ? 'length' : 'stop',
        };
        journal.append(row);
        done.set(key, row);
        generated++;
      });
      journal.sync();
    }
    return { rows: keyed.map((k) => done.get(k.key)!), generated, skipped: keyed.length - todo.length };
  } finally {
    journal.close();
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
    const response = row.response ?? row.output;
    if (typeof id !== 'string' || typeof response !== 'string') {
      throw new UsageError(`${file}:${i + 1}: a generation row needs \`id\` and \`response\` (or \`output\`) strings`);
    }
    out.set(id, { ...(row as Partial<GenerationRow>), id, response });
  });
  return out;
}
