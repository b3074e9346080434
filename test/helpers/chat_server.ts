// A small, real OpenAI-compatible HTTP server for tests: deterministic answers, and scriptable
// failures (status codes, Retry-After, delays, dropped connections) to exercise the client.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  at: number;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
}

/** One scripted behaviour for the next chat request; `undefined` from the script means "answer normally". */
export type Fault = { status: number; retryAfter?: string; body?: unknown } | { delayMs: number } | { destroy: true } | { answer: string };

export interface ChatServerOptions {
  models?: string[];
  /** Called per chat request (0-based count); return a fault to misbehave. */
  script?: (n: number, req: SeenRequest) => Fault | undefined;
  /** The normal answer's text; default: a digest of the last user message. */
  answer?: (req: SeenRequest) => string;
}

export interface ChatServer {
  url: string;
  seen: SeenRequest[];
  chatRequests(): SeenRequest[];
  close(): Promise<void>;
}

export function defaultAnswer(req: SeenRequest): string {
  const last = req.body?.messages?.at(-1)?.content ?? '';
  return `Rationale ${createHash('sha256').update(String(last)).digest('hex').slice(0, 12)}: the first response is preferred because it is more helpful.`;
}

export async function startChatServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  const seen: SeenRequest[] = [];
  const models = options.models ?? ['test-model'];
  let chatCount = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void respond(req, res, Buffer.concat(chunks).toString('utf8')));
  });

  async function respond(req: IncomingMessage, res: ServerResponse, raw: string) {
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const entry: SeenRequest = { at: Date.now(), method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
    seen.push(entry);
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    if (req.method === 'GET' && req.url === '/v1/models') {
      return json(200, { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'test' })) });
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return json(404, { error: { message: 'no such route' } });
    const fault = options.script?.(chatCount++, entry);
    if (fault && 'destroy' in fault) {
      req.socket.destroy();
      return;
    }
    if (fault && 'status' in fault) {
      return json(
        fault.status,
        fault.body ?? { error: { message: `scripted ${fault.status}`, type: 'test' } },
        fault.retryAfter ? { 'retry-after': fault.retryAfter } : {},
      );
    }
    if (fault && 'delayMs' in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (res.destroyed) return;
    const text = fault && 'answer' in fault ? fault.answer : (options.answer ?? defaultAnswer)(entry);
    const promptTokens = JSON.stringify(body?.messages ?? '').length;
    json(200, {
      id: `chatcmpl-${seen.length}`,
      object: 'chat.completion',
      created: 0,
      model: body?.model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: text.length, total_tokens: promptTokens + text.length },
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    seen,
    chatRequests: () => seen.filter((r) => r.path === '/v1/chat/completions'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
