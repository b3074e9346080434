// Completions over a local model, with request batching: requests arriving within a few
// milliseconds of each other (and sharing sampling settings) go through one batched generate call.
// A streamed answer is generated a small group of tokens per call (the native generate returns
// whole answers), each group queued like any request, so streams batch with each other and a
// stream whose client left stops after the group in flight.
// Generation and the cutting of each answer are inference/text_generator.ts's; this file batches.
import { randomInt } from 'node:crypto';
import type { ChatMessage } from '../data/schema.js';
import type { GeneratedText, SamplingSettings, ScoredToken, TextGenerator } from '../inference/text_generator.js';
import { logprobsFit } from '../inference/token_logprobs.js';
import { TokenizeTimeoutError } from '../tokenize/tokenizer_thread.js';
import { sendablePrefix, TextDeltas } from './text_deltas.js';

/** What the engine needs from a model (a TextGenerator; tests wrap one to inject faults). */
export type TextModel = Pick<
  TextGenerator,
  'id' | 'maxContext' | 'vocabSize' | 'encodeChatOffThread' | 'encodeText' | 'generate' | 'finish' | 'scoreTokens' | 'dispose'
>;

export interface Sampling extends SamplingSettings {
  /** Strings that end the completion (not included in it). */
  stop?: string[];
  /**
   * The seed is the client's: a sampled request then runs in a generate call of its own, so its
   * seed alone decides its answer (rows of one call draw from one generator, in row order).
   */
  reproducible?: boolean;
}

export interface EngineRequest extends Sampling {
  messages: ChatMessage[];
}

/** A prompt as a request gives it: a conversation (chat template applied), plain text, or token ids. */
export type EnginePrompt = { messages: ChatMessage[] } | { text: string } | { ids: number[] };

export interface EngineResult {
  text: string;
  /** The token ids behind `text`. */
  ids: number[];
  promptTokens: number;
  completionTokens: number;
  finishReason: 'stop' | 'length';
}

/** One piece of a streamed answer: new text and the tokens generated since the last piece. */
export interface StreamPiece {
  text: string;
  ids: number[];
  /** On the last piece. */
  finishReason?: 'stop' | 'length';
  /** On the last piece: tokens the model produced (its end token included). */
  completionTokens?: number;
}

/** The request itself is wrong (too long for the model, say): a 400, not a server fault. */
export class EngineInputError extends Error {
  override name = 'EngineInputError';
  constructor(
    message: string,
    /** The request field at fault. */
    readonly param: string = 'messages',
  ) {
    super(message);
  }
}

export class EngineAbortedError extends Error {
  override name = 'EngineAbortedError';
  constructor() {
    super('aborted');
  }
}

interface Pending {
  promptIds: number[];
  sampling: Sampling;
  key: string;
  resolve: (r: GeneratedText) => void;
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

/** Tokens per generate call of a streamed answer, unless the caller says otherwise. */
export const DEFAULT_STREAM_GROUP_TOKENS = 4;

const SEED_MODULUS = 2n ** 53n;

/** Seed of group `group` of a streamed answer with seed `seed`: (seed + 1000003·group) mod 2^53. */
export function groupSeed(seed: number, group: number): number {
  return Number((BigInt(seed) + 1_000_003n * BigInt(group)) % SEED_MODULUS);
}

/** A seed for a request that names none (sampled choices must not all draw seed 0). */
export function randomSeed(): number {
  return randomInt(0, 2 ** 48 - 1);
}

export class ChatEngine {
  private queue: Pending[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private solo = 0;
  /** Counters for /health and tests: generate calls, rows generated, the largest call, streamed groups. */
  readonly stats = { batches: 0, requests: 0, largestBatch: 0, streamGroups: 0 };

  constructor(
    readonly model: TextModel,
    private readonly options: ChatEngineOptions,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer (got ${options.maxBatch})`);
  }

  get pending(): number {
    return this.queue.length;
  }

  /** A chat request answered whole. */
  async complete(request: EngineRequest, signal?: AbortSignal): Promise<EngineResult> {
    const { messages, ...sampling } = request;
    const promptIds = await this.prepare({ messages }, sampling.maxNewTokens, { signal });
    return this.run(promptIds, sampling, signal);
  }

  /**
   * Tokenizes a prompt and checks it: its size before tokenizing, its ids, and that it and the
   * answer fit the model's context (and the log-probs bound when they are asked for). Bad input
   * is an EngineInputError naming `param`.
   */
  async prepare(prompt: EnginePrompt, maxNewTokens: number, o: { param?: string; logprobs?: boolean; signal?: AbortSignal } = {}): Promise<number[]> {
    const param = o.param ?? ('messages' in prompt ? 'messages' : 'prompt');
    if (this.closed) throw new Error('the engine is closed');
    if (o.signal?.aborted) throw new EngineAbortedError();
    const maxBytes = this.options.maxPromptBytes ?? DEFAULT_MAX_PROMPT_BYTES;
    let promptIds: number[];
    if ('ids' in prompt) {
      const vocab = this.model.vocabSize;
      const bad = prompt.ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
      if (bad !== -1) throw new EngineInputError(`${param}: token ${bad} is ${prompt.ids[bad]}, not an id of this model's vocabulary (0..${vocab - 1})`, param);
      promptIds = [...prompt.ids];
    } else {
      const bytes =
        'text' in prompt ? Buffer.byteLength(prompt.text) : prompt.messages.reduce((n, m) => n + Buffer.byteLength(m.content) + Buffer.byteLength(m.role), 0);
      if (bytes > maxBytes) {
        throw new EngineInputError(`the ${param} hold ${bytes} bytes of text; this server takes at most ${maxBytes} (serve --max-prompt-bytes)`, param);
      }
      try {
        const timeoutMs = this.options.tokenizeTimeoutMs;
        promptIds =
          'text' in prompt
            ? this.model.encodeText(prompt.text)
            : await this.model.encodeChatOffThread(prompt.messages, timeoutMs !== undefined ? { timeoutMs } : {});
      } catch (err) {
        if (err instanceof TokenizeTimeoutError) throw new EngineInputError(err.message, param);
        const what = 'text' in prompt ? 'tokenize the prompt' : 'apply the chat template';
        throw new EngineInputError(`cannot ${what}: ${err instanceof Error ? err.message : String(err)}`, param);
      }
    }
    if (promptIds.length === 0) throw new EngineInputError(`${param}: the prompt is empty after tokenization; give at least one token of text`, param);
    if (this.closed) throw new Error('the engine is closed');
    if (o.signal?.aborted) throw new EngineAbortedError();
    const max = this.model.maxContext;
    if (max !== undefined && promptIds.length + maxNewTokens > max) {
      throw new EngineInputError(
        `the prompt is ${promptIds.length} tokens and max_tokens is ${maxNewTokens}; together they exceed the model's context of ${max} tokens`,
        param,
      );
    }
    if (o.logprobs && !logprobsFit(promptIds.length + maxNewTokens, this.model.vocabSize)) {
      throw new EngineInputError(
        `logprobs: the prompt (${promptIds.length} tokens) and max_tokens (${maxNewTokens}) times the vocabulary (${this.model.vocabSize}) are more logits than this server materialises (2^28 floats); ask for fewer tokens`,
        'logprobs',
      );
    }
    return promptIds;
  }

  /** One answer, whole, in one (batched) generate call. */
  async run(promptIds: number[], sampling: Sampling, signal?: AbortSignal): Promise<EngineResult> {
    const out = await this.enqueue(promptIds, sampling, 'whole', signal);
    return {
      text: out.text,
      ids: out.ids,
      promptTokens: promptIds.length,
      completionTokens: out.generatedTokens,
      finishReason: out.stoppedBy === 'length' ? 'length' : 'stop',
    };
  }

  /**
   * One answer as it is produced: `groupTokens` tokens per generate call, the prompt and the
   * tokens so far given again each time (the native generate keeps no cache between calls).
   * Greedy answers equal run()'s; a sampled group g draws with groupSeed(seed, g).
   */
  async *stream(promptIds: number[], sampling: Sampling, signal?: AbortSignal, groupTokens = DEFAULT_STREAM_GROUP_TOKENS): AsyncGenerator<StreamPiece> {
    if (!Number.isInteger(groupTokens) || groupTokens < 1) throw new RangeError(`groupTokens must be a positive integer (got ${groupTokens})`);
    // Stop strings are looked for in the whole text so far, not in each group's.
    const { stop, ...groupSampling } = sampling;
    const stops = stop ?? [];
    const produced: number[] = [];
    const deltas = new TextDeltas();
    let sentTokens = 0;
    let generated = 0;
    for (let group = 0; ; group++) {
      const ask = Math.min(groupTokens, sampling.maxNewTokens - produced.length);
      const out = await this.enqueue(
        [...promptIds, ...produced],
        { ...groupSampling, maxNewTokens: ask, ...(sampling.seed !== undefined ? { seed: groupSeed(sampling.seed, group) } : {}) },
        'group',
        signal,
      );
      this.stats.streamGroups++;
      produced.push(...out.ids);
      generated += out.generatedTokens;
      // The text so far, cut at a stop string when one has appeared (no cut for length here).
      const cut = this.model.finish(produced, produced.length, stops);
      const ended = cut.stoppedBy === 'stop' || out.stoppedBy === 'eos' ? 'stop' : produced.length >= sampling.maxNewTokens ? 'length' : undefined;
      if (ended !== undefined) {
        const ids = produced.slice(sentTokens, cut.stoppedBy === 'stop' ? cut.tokens : produced.length);
        yield { text: deltas.finish(cut.text), ids, finishReason: ended, completionTokens: generated };
        return;
      }
      yield { text: deltas.next(sendablePrefix(cut.text, stops)), ids: produced.slice(sentTokens) };
      sentTokens = produced.length;
    }
  }

  /** Log-probs of `completion` after `context`, with the `top` likeliest tokens per position. */
  scoreTokens(context: readonly number[], completion: readonly number[], top: number): Promise<ScoredToken[]> {
    return this.model.scoreTokens(context, completion, top);
  }

  private enqueue(promptIds: number[], sampling: Sampling, mode: 'whole' | 'group', signal?: AbortSignal): Promise<GeneratedText> {
    if (this.closed) return Promise.reject(new Error('the engine is closed'));
    if (signal?.aborted) return Promise.reject(new EngineAbortedError());
    return new Promise<GeneratedText>((resolve, reject) => {
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
      // Rows of one generate call share these; seeds and lengths may differ (see runBatch). Groups
      // of streams batch only with each other: a whole answer would hold a group for its length.
      const shared = [sampling.temperature, sampling.topP ?? 1, sampling.topK ?? 0, mode];
      const alone = sampling.reproducible === true && sampling.temperature > 0;
      const p: Pending = {
        promptIds,
        sampling,
        key: JSON.stringify(alone ? [...shared, `solo ${this.solo++}`] : shared),
        resolve: (r) => {
          if (p.settled) return;
          settle();
          resolve(r);
        },
        reject: (e) => {
          if (p.settled) return;
          settle();
          reject(e);
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
    const first = batch[0]!.sampling;
    const maxNewTokens = Math.max(...batch.map((p) => p.sampling.maxNewTokens));
    const seed = batch.find((p) => p.sampling.seed !== undefined)?.sampling.seed;
    this.stats.batches++;
    this.stats.requests += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    let outputs: GeneratedText[];
    try {
      outputs = await this.model.generate(
        batch.map((p) => ({ promptIds: p.promptIds, maxNewTokens: p.sampling.maxNewTokens, ...(p.sampling.stop ? { stop: p.sampling.stop } : {}) })),
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
      p.resolve(out);
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
