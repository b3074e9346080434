// An OpenAI-compatible HTTP server (GET /v1/models, POST /v1/chat/completions, POST /v1/completions,
// GET /health) over a ChatEngine, on node:http. Bad requests get 4xx answers in OpenAI's error
// shape; the server goes on. The answers themselves are completion_responses.ts's.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ChatEngine,
  DEFAULT_STREAM_GROUP_TOKENS,
  EngineAbortedError,
  EngineInputError,
  randomSeed,
  type EnginePrompt,
  type Sampling,
} from './chat_engine.js';
import { respond, type CompletionJob } from './completion_responses.js';
import { ChatCompletionRequestSchema, CompletionRequestSchema, HttpError, MAX_CHOICES_PER_REQUEST, toChatMessages, validationError } from './protocol.js';

export interface ServeOptions {
  engine: ChatEngine;
  /** The name clients pass as `model` (and /v1/models lists). */
  modelId: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** max_tokens when a request gives none. */
  defaultMaxTokens?: number;
  maxBodyBytes?: number;
  /**
   * Most milliseconds a client may take to send a request body (default 30 s); then 408 and the
   * connection is closed. A body shorter than its Content-Length would otherwise hold the
   * connection until Node's own request timeout, minutes later.
   */
  bodyTimeoutMs?: number;
  /** Tokens per generate call of a streamed answer (each call sends one chunk); default 4. */
  streamGroupTokens?: number;
  /** When set, /v1/* requests need `Authorization: Bearer <apiKey>` (compared in constant time). */
  apiKey?: string;
  /**
   * Host header values (without port) that are served; others get 421. Default: when bound to a
   * loopback address, only loopback names (a DNS-rebinding page cannot then reach the server);
   * otherwise any. An empty list also means any.
   */
  allowedHosts?: string[];
  log?: (line: string) => void;
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1', '[::1]'];

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** The Host header's name part: `example.com:8000` → `example.com`, `[::1]:80` → `[::1]`. */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.replace(/:\d*$/, '');
}

function sameSecret(given: string, expected: string): boolean {
  // Digests have equal length whatever the inputs, so the comparison time says nothing about the key.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export interface RunningServer {
  url: string;
  server: Server;
  /** Stops accepting, lets running requests finish (up to graceMs), then closes the engine. */
  close(graceMs?: number): Promise<void>;
}

/** What the request handlers read: the options, and the settings resolved from them once at start. */
interface ServerContext {
  options: ServeOptions;
  /** The `created` time /v1/models reports: when the server started. */
  created: number;
  maxBody: number;
  bodyTimeoutMs: number;
  allowedHosts: string[];
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const bindHost = options.host ?? '127.0.0.1';
  const ctx: ServerContext = {
    options,
    created: Math.floor(Date.now() / 1000),
    maxBody: options.maxBodyBytes ?? 32 * 2 ** 20,
    bodyTimeoutMs: options.bodyTimeoutMs ?? 30_000,
    allowedHosts: options.allowedHosts ?? (isLoopback(bindHost) ? LOOPBACK_HOSTS : []),
  };
  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const p = handle(ctx, req, res).catch((err) => answerError(ctx, req, res, err));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  });
  const url = await listen(server, options.port ?? 8000, bindHost);
  return { url, server, close: closeOnce(server, inFlight, options.engine) };
}

/** A failed request's answer: its HttpError (a 500 for anything else) in OpenAI's error shape. */
function answerError(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const e = err instanceof HttpError ? err : new HttpError(500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
  if (e.status >= 500) ctx.options.log?.(`${req.method} ${req.url}: ${e.message}`);
  // A half-sent body leaves the connection unusable for a next request: close it after the answer.
  if (e.status === 408) res.shouldKeepAlive = false;
  if (!res.headersSent) sendJson(res, e.status, e.body());
  else res.end();
}

/** Listens on host:port and returns the server's URL (the port it got when 0 was asked). */
async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const bound = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${bound}:${address.port}`;
}

/** RunningServer.close: the first call shuts down, every later one returns the same promise. */
function closeOnce(server: Server, inFlight: ReadonlySet<Promise<void>>, engine: ChatEngine): RunningServer['close'] {
  let closing: Promise<void> | undefined;
  return (graceMs = 10_000) => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([Promise.allSettled([...inFlight]), grace]);
      server.closeAllConnections();
      await closed;
      await engine.close();
    })();
    return closing;
  };
}

/** Checks the Host header and the API key, then routes the request. */
async function handle(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  refuseForeignHost(ctx.allowedHosts, req);
  const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
  if (ctx.options.apiKey !== undefined && path.startsWith('/v1')) requireApiKey(req, ctx.options.apiKey);
  const { options } = ctx;
  if (path === '/health') {
    allow(req, 'GET');
    return sendJson(res, 200, { status: 'ok', model: options.modelId, queued: options.engine.pending, ...options.engine.stats });
  }
  if (path === '/v1/models') {
    allow(req, 'GET');
    return sendJson(res, 200, { object: 'list', data: [modelCard(ctx)] });
  }
  if (path.startsWith('/v1/models/')) {
    allow(req, 'GET');
    let id: string;
    try {
      id = decodeURIComponent(path.slice('/v1/models/'.length));
    } catch {
      throw new HttpError(400, `the path ${path} has a malformed %-escape`);
    }
    if (id !== options.modelId) throw unknownModel(ctx, id);
    return sendJson(res, 200, modelCard(ctx));
  }
  if (path === '/v1/chat/completions') {
    allow(req, 'POST');
    return chatCompletions(ctx, req, res);
  }
  if (path === '/v1/completions') {
    allow(req, 'POST');
    return completions(ctx, req, res);
  }
  throw new HttpError(
    404,
    `no route ${req.method} ${path}; this server has GET /v1/models, POST /v1/chat/completions, POST /v1/completions and GET /health`,
    'invalid_request_error',
    null,
    'not_found',
  );
}

function refuseForeignHost(allowedHosts: readonly string[], req: IncomingMessage): void {
  if (allowedHosts.length > 0 && !allowedHosts.includes(hostName(req.headers.host ?? ''))) {
    throw new HttpError(
      421,
      `Host "${req.headers.host ?? ''}" is not served here (allowed: ${allowedHosts.join(', ')}); use serve --allowed-host to add names`,
      'invalid_request_error',
      null,
      'misdirected_request',
    );
  }
}

function requireApiKey(req: IncomingMessage, apiKey: string): void {
  const auth = req.headers.authorization ?? '';
  const given = /^Bearer (.+)$/i.exec(auth)?.[1] ?? '';
  if (!sameSecret(given, apiKey)) {
    throw new HttpError(401, 'missing or wrong API key: send "Authorization: Bearer <key>"', 'invalid_request_error', null, 'invalid_api_key');
  }
}

function modelCard(ctx: ServerContext) {
  return { id: ctx.options.modelId, object: 'model', created: ctx.created, owned_by: 'rdpo-native' };
}

function unknownModel(ctx: ServerContext, id: string): HttpError {
  return new HttpError(
    404,
    `The model '${id}' does not exist; this server serves '${ctx.options.modelId}'`,
    'invalid_request_error',
    'model',
    'model_not_found',
  );
}

async function readJsonObject(ctx: ServerContext, req: IncomingMessage): Promise<object> {
  const raw = await readBody(req, ctx.maxBody, ctx.bodyTimeoutMs);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new HttpError(400, `the body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new HttpError(400, 'the body must be a JSON object');
  return json;
}

/** Sampling shared by both endpoints. Without a client seed a sampled request draws a random one
 * (its choices then differ); with one, choice i uses seed + i and runs reproducibly. */
function samplingOf(
  body: { temperature?: number | null; top_p?: number | null; top_k?: number | null; seed?: number | null; stop?: string | string[] | null },
  maxNewTokens: number,
): Sampling {
  const temperature = body.temperature ?? 1;
  const seed = body.seed ?? (temperature > 0 ? randomSeed() : undefined);
  return {
    maxNewTokens,
    temperature,
    topP: body.top_p ?? 1,
    topK: body.top_k ?? 0,
    ...(seed !== undefined ? { seed } : {}),
    ...(body.seed != null ? { reproducible: true } : {}),
    ...(body.stop != null ? { stop: typeof body.stop === 'string' ? [body.stop] : body.stop } : {}),
  };
}

/** Tokenizes and checks the prompts, then answers; a client that hangs up frees its place in the queue. */
async function run(
  ctx: ServerContext,
  res: ServerResponse,
  prompts: EnginePrompt[],
  job: Omit<CompletionJob, 'prompts' | 'modelId' | 'streamGroupTokens'>,
): Promise<void> {
  const { options } = ctx;
  if (prompts.length * job.n > MAX_CHOICES_PER_REQUEST) {
    throw new HttpError(
      400,
      `${prompts.length} prompts × n=${job.n} is ${prompts.length * job.n} choices; this server answers at most ${MAX_CHOICES_PER_REQUEST} per request`,
      'invalid_request_error',
      'n',
    );
  }
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  let ids: number[][];
  try {
    ids = await Promise.all(
      prompts.map((p) => options.engine.prepare(p, job.sampling.maxNewTokens, { logprobs: job.topLogprobs !== undefined, signal: gone.signal })),
    );
  } catch (err) {
    if (err instanceof EngineAbortedError) return;
    if (err instanceof EngineInputError) throw new HttpError(400, err.message, 'invalid_request_error', err.param);
    throw err;
  }
  await respond(
    options.engine,
    { ...job, prompts: ids, modelId: options.modelId, streamGroupTokens: options.streamGroupTokens ?? DEFAULT_STREAM_GROUP_TOKENS },
    res,
    gone.signal,
  );
}

async function chatCompletions(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const parsed = ChatCompletionRequestSchema.safeParse(await readJsonObject(ctx, req));
  if (!parsed.success) throw validationError(parsed.error);
  const body = parsed.data;
  if (body.model !== undefined && body.model !== ctx.options.modelId) throw unknownModel(ctx, body.model);
  if (body.top_logprobs != null && !body.logprobs) throw new HttpError(400, 'top_logprobs: needs "logprobs": true', 'invalid_request_error', 'top_logprobs');
  const maxNewTokens = body.max_completion_tokens ?? body.max_tokens ?? ctx.options.defaultMaxTokens ?? 512;
  await run(ctx, res, [{ messages: toChatMessages(body.messages) }], {
    kind: 'chat',
    n: body.n ?? 1,
    sampling: samplingOf(body, maxNewTokens),
    topLogprobs: body.logprobs ? (body.top_logprobs ?? 0) : undefined,
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
  });
}

async function completions(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const parsed = CompletionRequestSchema.safeParse(await readJsonObject(ctx, req));
  if (!parsed.success) throw validationError(parsed.error);
  const body = parsed.data;
  if (body.model !== undefined && body.model !== ctx.options.modelId) throw unknownModel(ctx, body.model);
  if (body.echo) throw new HttpError(400, 'echo: returning the prompt with the completion is not supported; send echo: false', 'invalid_request_error', 'echo');
  if (body.suffix != null) throw new HttpError(400, 'suffix: insertion (a text after the completion) is not supported', 'invalid_request_error', 'suffix');
  const n = body.n ?? 1;
  if (body.best_of != null && body.best_of !== n)
    throw new HttpError(
      400,
      `best_of: only best_of = n is supported (got best_of ${body.best_of}, n ${n}); every generated choice is returned`,
      'invalid_request_error',
      'best_of',
    );
  await run(ctx, res, completionPrompts(body.prompt), {
    kind: 'text',
    n,
    sampling: samplingOf(body, body.max_tokens ?? ctx.options.defaultMaxTokens ?? 512),
    topLogprobs: body.logprobs ?? undefined,
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
  });
}

/** /v1/completions' `prompt`: a text, token ids, or a list of either, as engine prompts. */
function completionPrompts(p: string | number[] | Array<string | number[]>): EnginePrompt[] {
  return typeof p === 'string'
    ? [{ text: p }]
    : typeof p[0] === 'number'
      ? [{ ids: p as number[] }]
      : (p as Array<string | number[]>).map((x) => (typeof x === 'string' ? { text: x } : { ids: x }));
}

function allow(req: IncomingMessage, method: string): void {
  if (req.method !== method) throw new HttpError(405, `use ${method} here (got ${req.method})`, 'invalid_request_error', null, 'method_not_allowed');
}

function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      reject(
        new HttpError(
          408,
          `the request body did not arrive within ${timeoutMs / 1000} s (${size} bytes came${req.headers['content-length'] ? ` of the ${req.headers['content-length']} announced` : ''})`,
        ),
      );
      req.pause();
    }, timeoutMs);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        clearTimeout(timer);
        reject(new HttpError(413, `the body is larger than ${limit} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('close', () => clearTimeout(timer));
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
