// A ChatGenerator over any OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp, Ollama,
// `rdpo-native serve`) on plain fetch: two endpoints need no SDK, and retries are ours (retry.ts).
import type { ChatMessage } from '../data/schema.js';
import { UsageError } from '../errors.js';
import type { ChatGenerator, Completion, SamplingOptions } from './generator.js';
import { GeneratorError, isRetryableStatus, parseRetryAfter } from './retry.js';

export interface OpenAIGeneratorOptions {
  /** `http://host:port` (then `/v1` is appended) or a full base such as `https://api.openai.com/v1`. */
  baseURL: string;
  /** Omit to use the server's only model (GET /v1/models). */
  model?: string;
  /** Name of the environment variable holding the key (default OPENAI_API_KEY); the key is never printed. */
  apiKeyEnv?: string;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Most bytes of one answer; a larger one is refused and its stream stopped (default 16 MiB). */
  maxResponseBytes?: number;
}

/** An answer to a chat request with max_tokens in the thousands is kilobytes; this leaves ample room. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 2 ** 20;

export function normaliseBaseURL(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`"${raw}" is not a URL; write openai:http://HOST:PORT/v1 (or openai:https://api.openai.com/v1)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`"${raw}" is not an http(s) URL; write openai:http://HOST:PORT/v1`);
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/v1';
  return url.toString().replace(/\/+$/, '');
}

interface ChatCompletionResponse {
  choices?: Array<{ message?: { content?: unknown }; finish_reason?: unknown }>;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
}

export class OpenAIGenerator implements ChatGenerator {
  private constructor(
    private readonly baseURL: string,
    readonly model: string,
    private readonly secret: string | undefined,
    private readonly timeoutMs: number,
    private readonly maxResponseBytes: number,
  ) {}

  static async connect(options: OpenAIGeneratorOptions): Promise<OpenAIGenerator> {
    const baseURL = normaliseBaseURL(options.baseURL);
    const envName = options.apiKeyEnv ?? 'OPENAI_API_KEY';
    const key = process.env[envName];
    if (options.apiKeyEnv !== undefined && (key === undefined || key === '')) {
      throw new UsageError(`--api-key-env ${envName}: that environment variable is not set`);
    }
    const timeoutMs = options.timeoutMs ?? 600_000;
    const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const secret = key || undefined;
    if (options.model !== undefined) return new OpenAIGenerator(baseURL, options.model, secret, timeoutMs, maxBytes);
    const probe = new OpenAIGenerator(baseURL, '', secret, timeoutMs, maxBytes);
    return new OpenAIGenerator(baseURL, await probe.onlyModel(), secret, timeoutMs, maxBytes);
  }

  async complete(messages: ChatMessage[], options: SamplingOptions): Promise<Completion> {
    const body = {
      model: this.model,
      messages,
      max_tokens: options.maxNewTokens,
      temperature: options.temperature,
      ...(options.topP !== undefined ? { top_p: options.topP } : {}),
      ...(options.topK !== undefined ? { top_k: options.topK } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    };
    const response = (await this.request('POST', '/chat/completions', body, options.signal)) as ChatCompletionResponse;
    const choice = response?.choices?.[0];
    const text = choice?.message?.content;
    if (typeof text !== 'string') {
      throw new GeneratorError(`the server's answer has no choices[0].message.content (model ${this.model})`, true);
    }
    const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    return {
      text,
      promptTokens: count(response.usage?.prompt_tokens),
      completionTokens: count(response.usage?.completion_tokens),
      finishReason: choice?.finish_reason === 'length' ? 'length' : 'stop',
    };
  }

  async close(): Promise<void> {}

  private async onlyModel(): Promise<string> {
    let ids: string[];
    try {
      const list = (await this.request('GET', '/models')) as { data?: Array<{ id?: unknown }> };
      ids = (list?.data ?? []).map((m) => m?.id).filter((id): id is string => typeof id === 'string');
    } catch (err) {
      if (!(err instanceof GeneratorError)) throw err;
      throw new UsageError(`cannot list the models of ${this.baseURL} (${err.message}); name one with --generator-model (or --judge-model)`);
    }
    if (ids.length === 1) return ids[0]!;
    if (ids.length === 0) throw new UsageError(`${this.baseURL}/models lists no models; name one with --generator-model (or --judge-model)`);
    throw new UsageError(`${this.baseURL} serves ${ids.length} models; choose one with --generator-model (or --judge-model): ${ids.join(', ')}`);
  }

  /** One HTTP exchange; every failure becomes a classified GeneratorError without the key in it. */
  private async request(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.secret) headers.authorization = `Bearer ${this.secret}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.baseURL + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await readCapped(response, this.maxResponseBytes, `${method} ${path}`);
    } catch (err) {
      if (err instanceof GeneratorError) throw err;
      if (signal?.aborted) throw new GeneratorError('aborted', false, { aborted: true });
      if (timeout.aborted) throw new GeneratorError(`request timed out after ${formatSeconds(this.timeoutMs)}`, true);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
      throw new GeneratorError(redact(`connection error (${method} ${this.baseURL}${path}): ${why}`, this.secret), true);
    }
    if (!response.ok) {
      const retryAfterMs = parseRetryAfter((n) => response.headers.get(n));
      throw new GeneratorError(`HTTP ${response.status} from ${method} ${path}: ${errorMessage(text, this.secret)}`, isRetryableStatus(response.status), {
        status: response.status,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new GeneratorError(
        `the server answered ${method} ${path} with something that is not JSON: ${JSON.stringify(snippet(text, this.secret, 100))}`,
        true,
      );
    }
  }
}

/**
 * The body as text, read as a stream and stopped (the connection dropped) past `maxBytes`: a
 * server that sends a gigabyte is not buffered until V8's string limit.
 */
async function readCapped(response: Response, maxBytes: number, what: string): Promise<string> {
  const tooLarge = () =>
    new GeneratorError(`the server's answer to ${what} is larger than ${maxBytes} bytes; refused (a chat answer is kilobytes: check the server)`, false);
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** The message of an OpenAI-shaped error body, else the start of the body; redacted, then cut. */
function errorMessage(text: string, secret: string | undefined): string {
  try {
    const json = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof json.error === 'string' ? json.error : (json.error?.message ?? json.message);
    if (typeof m === 'string') return snippet(m, secret, 500);
  } catch {}
  const t = text.trim();
  return t === '' ? '(empty body)' : snippet(t, secret, 200);
}

/**
 * Server text made safe to print: the key is redacted in the whole text *before* it is cut to
 * `max` characters (cutting first could leave a prefix of the key that no longer matches).
 */
export function snippet(text: string, secret: string | undefined, max: number): string {
  const safe = redact(text, secret);
  return safe.length > max ? `${safe.slice(0, max)}…` : safe;
}

/** Never let the key reach a message, whatever the server echoes back. */
export function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}
