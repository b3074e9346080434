// Text generation, in one place for every caller (the `generate` CLI, `serve`, eval's generation,
// the local rationale generator, the demo): one sampling-settings type, one no-EOS error, one rule
// for cutting what the model produced (its end token, the row's own token budget, stop strings).
import type { ChatMessage } from '../data/schema.js';
import { UsageError } from '../errors.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { applyChatTemplate } from '../tokenize/chat_template.js';
import { encodePrompt, type Prompt, type PromptFormat } from '../tokenize/prompt_format.js';
import { TokenizerThread } from '../tokenize/tokenizer_thread.js';
import { loadModel, type LoadedModel, type ModelLoadOptions } from './load_model.js';
import { cutAtStops } from './stop_strings.js';
import { tokenLogprobs, type TokenChoice } from './token_logprobs.js';

export interface SamplingSettings {
  /** Most tokens generated per prompt (a request may ask for fewer, see TextRequest). */
  maxNewTokens: number;
  /** 0: greedy. */
  temperature: number;
  /** Nucleus mass; default 1 (off). */
  topP?: number;
  /** Sample among the k likeliest tokens; default 0 (all). */
  topK?: number;
  /** Seed of the sampler for this call (the native default when absent). */
  seed?: number;
}

/** A model without an end-of-sequence token would generate until its budget every time. */
export class NoEosTokenError extends UsageError {
  override name = 'NoEosTokenError';
  constructor(dir: string) {
    super(`${dir}: the tokenizer names no end-of-sequence token, so generation could not stop; set eos_token in tokenizer_config.json`);
  }
}

export interface TextRequest {
  promptIds: number[];
  /** This row's budget when it is below the call's (rows of one batch share one generate call). */
  maxNewTokens?: number;
  /** Cut the text before the first of these. */
  stop?: readonly string[];
}

export interface GeneratedText {
  /** The decoded answer: no end token, cut before the first stop string. */
  text: string;
  /** The token ids behind `text` (`tokens` of them). */
  ids: number[];
  /** Tokens behind `text` (the end token excluded; up to the stop string when one cut it). */
  tokens: number;
  /** Tokens the model produced for this row within its budget, the end token included (usage). */
  generatedTokens: number;
  /** eos: the model ended its turn; stop: a stop string cut it; length: it hit its budget. */
  stoppedBy: 'eos' | 'stop' | 'length';
}

/** A scored token as a client reads it: its text (U+FFFD for part of a character) and bytes. */
export interface TokenText extends TokenChoice {
  token: string;
  bytes: number[];
}

export interface ScoredToken extends TokenText {
  /** The likeliest tokens at this position, best first. */
  top: TokenText[];
}

/** Prompts longer than this (UTF-8 bytes) are tokenized on a worker thread by encodeChatOffThread. */
export const OFF_THREAD_PROMPT_BYTES = 16 * 1024;

export class TextGenerator {
  readonly eosTokenIds: number[];
  private thread: TokenizerThread | undefined;

  /** Throws NoEosTokenError for a tokenizer without an end token. */
  constructor(readonly model: LoadedModel) {
    TextGenerator.check(model.dir, model.tokenizer);
    this.eosTokenIds = [...model.tokenizer.eosTokenIds];
  }

  static check(dir: string, tokenizer: Tokenizer): void {
    if (tokenizer.eosTokenIds.length === 0) throw new NoEosTokenError(dir);
  }

  /** Loads a model directory for generation (the EOS check comes before the weights are read). */
  static async load(dir: string, options: ModelLoadOptions = {}): Promise<TextGenerator> {
    return new TextGenerator(await loadModel(dir, options, (tokenizer) => TextGenerator.check(dir, tokenizer)));
  }

  get id(): string {
    return this.model.name;
  }

  get tokenizer(): Tokenizer {
    return this.model.tokenizer;
  }

  get maxContext(): number | undefined {
    return this.model.maxContext;
  }

  get vocabSize(): number {
    return this.model.lm.config.vocabSize;
  }

  /** Plain text as the tokenizer encodes it (with what its post-processor adds, a BOS say). */
  encodeText(text: string): number[] {
    return this.model.tokenizer.encode(text);
  }

  /** Log-probs of `completion` after `context` and the `top` likeliest alternatives per position (inference/token_logprobs.ts). */
  async scoreTokens(context: readonly number[], completion: readonly number[], top: number): Promise<ScoredToken[]> {
    const scored = await tokenLogprobs(this.model.lm, context, completion, top);
    const text = (c: TokenChoice): TokenText => ({ ...c, token: this.model.tokenizer.decode([c.id]), bytes: this.model.tokenizer.tokenBytes(c.id) });
    return scored.map((s) => ({ ...text(s), top: s.top.map(text) }));
  }

  /** Prompt ids under the prompt-format rule (tokenize/prompt_format.ts). */
  encode(prompt: Prompt, format: PromptFormat, system?: string): number[] {
    return encodePrompt(this.model.tokenizer, prompt, format, system);
  }

  /** A conversation through the chat template with the assistant turn opened. */
  encodeChat(messages: readonly ChatMessage[]): number[] {
    return applyChatTemplate(this.model.tokenizer, messages, { addGenerationPrompt: true });
  }

  /**
   * encodeChat, on a worker thread for a long conversation, so the caller's event loop stays free.
   * With `timeoutMs` every conversation goes to the thread, under that deadline (TokenizerThread):
   * a server tokenizing what clients send must not hang on a tokenizer regex, however short the text.
   */
  encodeChatOffThread(messages: readonly ChatMessage[], options: { timeoutMs?: number } = {}): Promise<number[]> {
    const bytes = messages.reduce((n, m) => n + Buffer.byteLength(m.content), 0);
    if (options.timeoutMs === undefined && bytes <= OFF_THREAD_PROMPT_BYTES) {
      try {
        return Promise.resolve(this.encodeChat(messages));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    this.thread ??= new TokenizerThread(this.model.dir);
    return this.thread.applyChatTemplate(messages, { addGenerationPrompt: true }, options.timeoutMs);
  }

  /** One batched generate call; each row is cut by `finish`. */
  async generate(requests: readonly TextRequest[], s: SamplingSettings): Promise<GeneratedText[]> {
    const outputs = await this.model.lm.generate(
      requests.map((r) => r.promptIds),
      {
        maxNewTokens: s.maxNewTokens,
        temperature: s.temperature,
        topP: s.topP ?? 1,
        topK: s.topK ?? 0,
        ...(s.seed !== undefined ? { seed: s.seed } : {}),
        eosTokenIds: this.eosTokenIds,
      },
    );
    return requests.map((r, i) => this.finish(outputs[i] ?? [], Math.min(r.maxNewTokens ?? s.maxNewTokens, s.maxNewTokens), r.stop ?? []));
  }

  /** Cuts one row's new tokens at its end token or its budget, then its text at its stop strings. */
  finish(generated: readonly number[], maxNewTokens: number, stops: readonly string[]): GeneratedText {
    const end = generated.findIndex((t) => this.eosTokenIds.includes(t));
    let body: number[];
    let stoppedBy: GeneratedText['stoppedBy'];
    let generatedTokens: number;
    if (end !== -1 && end < maxNewTokens) {
      body = generated.slice(0, end);
      stoppedBy = 'eos';
      generatedTokens = end + 1;
    } else {
      body = generated.slice(0, maxNewTokens);
      // The native generator returns fewer tokens than asked only after an end token; a row without
      // one that is still short ended on its own all the same.
      stoppedBy = body.length < maxNewTokens ? 'eos' : 'length';
      generatedTokens = body.length;
    }
    const cut = cutAtStops(this.model.tokenizer, body, [], stops);
    if (cut.stoppedBy === 'stop') return { text: cut.text, ids: body.slice(0, cut.tokens), tokens: cut.tokens, generatedTokens, stoppedBy: 'stop' };
    return { text: cut.text, ids: body, tokens: body.length, generatedTokens, stoppedBy };
  }

  /** Frees the weights and the tokenizer thread. */
  async dispose(): Promise<void> {
    const thread = this.thread;
    this.thread = undefined;
    this.model.lm.dispose();
    await thread?.close();
  }
}
