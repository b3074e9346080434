// `--generator` / `--judge` → a ChatGenerator: a local model directory or `openai:BASE_URL`.
import { ChatEngine } from '../serve/chat_engine.js';
import { parseGeneratorSpec, type ChatGenerator } from './generator.js';
import { LocalGenerator } from './local_generator.js';
import { OpenAIGenerator } from './openai_generator.js';

export interface ConnectOptions {
  /** The served model's name (remote only; a single-model server needs none). */
  model?: string;
  apiKeyEnv?: string;
  timeoutMs?: number;
  /** Local only. */
  dtype?: string;
  device?: string;
  maxBatch: number;
}

export async function openGenerator(value: string, options: ConnectOptions): Promise<ChatGenerator> {
  const spec = parseGeneratorSpec(value);
  if (spec.kind === 'openai') {
    return OpenAIGenerator.connect({
      baseURL: spec.baseURL,
      ...(options.model !== undefined ? { model: options.model } : {}),
      ...(options.apiKeyEnv !== undefined ? { apiKeyEnv: options.apiKeyEnv } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
  }
  // Loaded on demand: a run against a server needs neither the native addon nor the tokenizer.
  const { TextGenerator } = await import('../inference/text_generator.js');
  const model = await TextGenerator.load(spec.dir, {
    ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
    ...(options.device !== undefined ? { device: options.device } : {}),
  });
  return new LocalGenerator(new ChatEngine(model, { maxBatch: options.maxBatch }));
}
