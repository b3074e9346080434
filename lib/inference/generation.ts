// Answers to a list of prompts as rows, in one place for every caller that writes them (the
// `generate` CLI, eval's generation, the programmatic API): one row shape and one seed rule.
//
// The seed rule: the prompt at index i of a run samples with seed + i. The rows of one native
// generate call draw from one random generator, row after row, so a sampled prompt runs in a call
// of its own (as serve runs a request that names its seed); its text then depends on its prompt,
// the sampling settings and seed + i, not on the batch size or on the other prompts of its batch.
// Greedy decoding draws nothing and batches `batchSize` prompts per call.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Prompt, PromptFormat } from '../tokenize/prompt_format.js';
import type { GeneratedText, SamplingSettings, TextGenerator } from './text_generator.js';

export interface GenerationPrompt {
  id: string;
  prompt: Prompt;
  /** A system text kept beside the prompt (a preference pair's), encoded as the trainer did. */
  system?: string;
}

/** One generated answer: a line of `generate`'s output and of eval's generations.jsonl. */
export interface GenerationRow {
  /** generationKey: what was generated, by which model, under which settings (eval's resume key). */
  key: string;
  id: string;
  prompt: Prompt;
  response: string;
  model: string;
  /** Response tokens, the end token excluded (up to the stop string when one cut it). */
  tokens: number;
  /** `length`: it hit maxNewTokens; `stop`: the model ended, or a stop string cut it. */
  finishReason: 'stop' | 'length';
  /** eos: the model ended its turn; stop: a stop string cut it; length: it hit its budget. */
  stoppedBy: GeneratedText['stoppedBy'];
}

/** The seed the prompt at `index` samples with. */
export function promptSeed(seed: number | undefined, index: number): number {
  return (seed ?? 0) + index;
}

export function generationKey(modelDir: string, item: GenerationPrompt, s: SamplingSettings, format: PromptFormat = 'chat'): string {
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

/** A prompt to generate for, with its index in the run (the seed rule) and its row key. */
export interface IndexedPrompt {
  item: GenerationPrompt;
  index: number;
  key: string;
}

export interface GenerateRowsOptions {
  sampling: SamplingSettings;
  /** How prompts become tokens (tokenize/prompt_format.ts): the format the model was trained with. */
  promptFormat: PromptFormat;
  /** Prompts per generate call when decoding greedily (default 8). */
  batchSize?: number;
  /** Cut each answer before the first of these. */
  stop?: readonly string[];
  /** Called with each finished call's rows, in prompt order, before the next call starts. */
  onRows: (rows: GenerationRow[], done: number) => void;
}

/** Generates one row per prompt, in order, under the seed rule above. */
export async function generateRows(generator: TextGenerator, prompts: readonly IndexedPrompt[], options: GenerateRowsOptions): Promise<void> {
  const { sampling } = options;
  const perCall = sampling.temperature > 0 ? 1 : (options.batchSize ?? 8);
  for (let start = 0; start < prompts.length; start += perCall) {
    const batch = prompts.slice(start, start + perCall);
    const outputs = await generator.generate(
      batch.map(({ item }) => ({
        promptIds: generator.encode(item.prompt, options.promptFormat, item.system),
        ...(options.stop ? { stop: options.stop } : {}),
      })),
      { ...sampling, seed: promptSeed(sampling.seed, batch[0]!.index) },
    );
    const rows = batch.map(({ item, key }, i): GenerationRow => {
      const out = outputs[i]!;
      return {
        key,
        id: item.id,
        prompt: item.prompt,
        response: out.text,
        model: generator.model.name,
        tokens: out.tokens,
        finishReason: out.stoppedBy === 'length' ? 'length' : 'stop',
        stoppedBy: out.stoppedBy,
      };
    });
    options.onRows(rows, start + batch.length);
  }
}
