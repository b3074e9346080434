// Chat completions over a local model, with request batching: requests arriving within a few
// milliseconds of each other (and sharing sampling settings) go through one batched generate call.
// Generation and the cutting of each answer are inference/text_generator.ts's; this file batches.
import type { ChatMessage } from '../data/schema.js';
import type { GeneratedText, SamplingSettings, TextGenerator } from '../inference/text_generator.js';
import { TokenizeTimeoutError } from '../tokenize/tokenizer_thread.js';

/** What the engine needs from a model (a TextGenerator; tests wrap one to inject faults). */
export type TextModel = Pick<TextGenerator, 'id' | 'maxContext' | 'encodeChatOffThread' | 'generate' | 'dispose'>;

export interface EngineRequest extends SamplingSettings {
  messages: ChatMessage[];
  /** Strings that end the completion (not included in it). */
  stop?: string[];
}

export interface EngineResult {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: 'stop' | 'length';
}

/** The request itself is wrong (too long for the model, say): a 400, not a server fault. */
export class EngineInputError extends Error {
  override name = 'EngineInputError';
}

export class EngineAbortedError extends Error {
  override name = 'EngineAbortedError';
  constructor() {
    super('aborted');
  }
}

interface Pending {
  request: EngineRequest;
  promptIds: number[];
  key: string;
  resolve: (r: EngineResult) => void;
  reject: (e: unknown) => void;
  settled: boolean;
}

export interface ChatEngineOptions {
  /** Most requests per generate call. */
  maxBatch: number;
  /** How long the first request of an idle engine waits for company. */
  windowMs?: number;
  /**
   * Most UTF-8 bytes of message text a request may carry; checked before the chat template and
   * the tokenizer run (which take seconds and GBs for a 20 MB prompt). Default 1 MiB (about 250k
   * tokens, beyond any context this serves). What passes is tokenized off the event loop when long
   * (TextGenerator.encodeChatOffThread), so /health and other requests do not wait for it.
   */
  maxPromptBytes?: number;
  /**
   * Most milliseconds one request's tokenization may take; past it the request fails and the
   * tokenizer thread is restarted (a tokenizer.json regex that backtracks catastrophically would
   * otherwise hold the server). When set, every prompt is tokenized on the thread. Default: none.
   */
  tokenizeTimeoutMs?: number;
}

export const DEFAULT_MAX_PROMPT_BYTES = 2 ** 20;

export class ChatEngine {
  private queue: Pending[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Counters for /health and tests. */
  readonly stats = { batches: 0, requests: 0, largestBatch: 0 };

  constructor(
    readonly model: TextModel,
    private readonly options: ChatEngineOptions,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer (got ${options.maxBatch})`);
  }

  get pending(): number {
    return this.queue.length;
  }

  async complete(request: EngineRequest, signal?: AbortSignal): Promise<EngineResult> {
    if (this.closed) throw new Error('the engine is closed');
    if (signal?.aborted) throw new EngineAbortedError();
    const bytes = request.messages.reduce((n, m) => n + Buffer.byteLength(m.content) + Buffer.byteLength(m.role), 0);
    const maxBytes = this.options.maxPromptBytes ?? DEFAULT_MAX_PROMPT_BYTES;
    if (bytes > maxBytes) {
      throw new EngineInputError(`the messages hold ${bytes} bytes of text; this server takes at most ${maxBytes} (serve --max-prompt-bytes)`);
    }
    let promptIds: number[];
    try {
      const timeoutMs = this.options.tokenizeTimeoutMs;
      promptIds = await this.model.encodeChatOffThread(request.messages, timeoutMs !== undefined ? { timeoutMs } : {});
    } catch (err) {
      if (err instanceof TokenizeTimeoutError) throw new EngineInputError(err.message);
      throw new EngineInputError(`cannot apply the chat template: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (this.closed) throw new Error('the engine is closed');
    if (signal?.aborted) throw new EngineAbortedError();
    const max = this.model.maxContext;
    if (max !== undefined && promptIds.length + request.maxNewTokens > max) {
      throw new EngineInputError(
        `the prompt is ${promptIds.length} tokens and max_tokens is ${request.maxNewTokens}; together they exceed the model's context of ${max} tokens`,
      );
    }
    return new Promise<EngineResult>((resolve, reject) => {
      // Still queued: leave the queue. Already generating: the result is discarded when it comes.
      const onAbort = () => {
        this.queue = this.queue.filter((q) => q !== p);
        p.reject(new EngineAbortedError());
      };
      // One signal may be shared by thousands of requests: drop the listener once settled.
      const settle = () => {
        p.settled = true;
        signal?.removeEventListener('abort', onAbort);
      };
      const p: Pending = {
        request,
        promptIds,
        // Rows of one generate call share these; seeds and lengths may differ (see runBatch).
        key: JSON.stringify([request.temperature, request.topP ?? 1, request.topK ?? 0]),
        resolve: (r) => {
          if (!p.settled) settle(), resolve(r);
        },
        reject: (e) => {
          if (!p.settled) settle(), reject(e);
        },
        settled: false,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(p);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.timer !== undefined || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, this.options.windowMs ?? 5);
  }

  /** One batch, then back through the window: callers whose previous answer just came back need a
   * moment to queue their next request, and a batch formed at once would leave them out. */
  private async drain(): Promise<void> {
    const first = this.queue[0];
    if (first === undefined) return; // every queued request was aborted during the window
    this.running = true;
    try {
      const key = first.key;
      const batch: Pending[] = [];
      const rest: Pending[] = [];
      for (const p of this.queue) (p.key === key && batch.length < this.options.maxBatch ? batch : rest).push(p);
      this.queue = rest;
      await this.runBatch(batch);
    } finally {
      this.running = false;
      if (!this.closed) this.schedule();
    }
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    const first = batch[0]!.request;
    const maxNewTokens = Math.max(...batch.map((p) => p.request.maxNewTokens));
    const seed = batch.find((p) => p.request.seed !== undefined)?.request.seed;
    this.stats.batches++;
    this.stats.requests += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    let outputs: GeneratedText[];
    try {
      outputs = await this.model.generate(
        batch.map((p) => ({ promptIds: p.promptIds, maxNewTokens: p.request.maxNewTokens, ...(p.request.stop ? { stop: p.request.stop } : {}) })),
        {
          maxNewTokens,
          temperature: first.temperature,
          topP: first.topP ?? 1,
          topK: first.topK ?? 0,
          ...(seed !== undefined ? { seed } : {}),
        },
      );
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // One bad request must not fail its batch-mates: each runs again alone, and only the one(s)
      // at fault fail.
      for (const p of batch) if (!p.settled) await this.runBatch([p]);
      return;
    }
    batch.forEach((p, i) => {
      const out = outputs[i];
      if (out === undefined) return p.reject(new Error(`the model returned ${outputs.length} answers for ${batch.length} prompts`));
      p.resolve({
        text: out.text,
        promptTokens: p.promptIds.length,
        completionTokens: out.generatedTokens,
        finishReason: out.stoppedBy === 'length' ? 'length' : 'stop',
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const p of this.queue) p.reject(new Error('the server is shutting down'));
    this.queue = [];
    await this.model.dispose();
  }
}
