// What rationale generation and the judge need from a model: one chat turn in, text out.
import type { ChatMessage } from '../data/schema.js';
import type { SamplingSettings } from '../inference/text_generator.js';

/** The one sampling-settings type (inference/text_generator.ts), plus a way to abort. */
export interface SamplingOptions extends SamplingSettings {
  /** Aborts the request (Ctrl-C); the promise then rejects. */
  signal?: AbortSignal;
}

export interface Completion {
  text: string;
  promptTokens: number;
  completionTokens: number;
  /** `stop`: the model ended its turn; `length`: it hit maxNewTokens. */
  finishReason: 'stop' | 'length';
}

export interface ChatGenerator {
  /** The model's name as recorded in `rationale_model`. */
  readonly model: string;
  complete(messages: ChatMessage[], options: SamplingOptions): Promise<Completion>;
  close(): Promise<void>;
}

/** Parses `--generator` / `--judge`: `openai:BASE_URL` or a local model directory. */
export type GeneratorSpec = { kind: 'openai'; baseURL: string } | { kind: 'local'; dir: string };

export function parseGeneratorSpec(value: string): GeneratorSpec {
  if (value.startsWith('openai:')) return { kind: 'openai', baseURL: value.slice('openai:'.length) };
  return { kind: 'local', dir: value };
}
