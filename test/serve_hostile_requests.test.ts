// `serve` under hostile requests: a bad seed is a 400 that does not touch its batch-mates,
// a failing row fails alone, a huge prompt is refused before tokenizing, a malformed %-escape is a
// 400, an API key is enforced, and only loopback Host names reach a loopback server.
import test from 'ava';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { ChatEngine, type TextModel } from '../lib/serve/chat_engine.js';
import { TextGenerator } from '../lib/inference/text_generator.js';
import { startServer, type RunningServer } from '../lib/serve/server.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));
const KEY = 'serve-test-key-0123456789';

let model: TextGenerator;
let server: RunningServer;
let locked: RunningServer;

test.before(async () => {
  model = await TextGenerator.load(MODEL);
  server = await startServer({
    engine: new ChatEngine(model, { maxBatch: 8, windowMs: 50, maxPromptBytes: 4096 }),
    modelId: 'tiny-chat',
    port: 0,
    defaultMaxTokens: 8,
  });
  // A second server over the same model (ChatEngine.close disposes it, so only the first one closes the engine).
  locked = await startServer({ engine: new ChatEngine(model, { maxBatch: 2 }), modelId: 'tiny-chat', port: 0, apiKey: KEY });
});
test.after.always(async () => {
  locked?.server.close();
  await server?.close(1000);
});

const ask = (content: string, extra: object = {}) => ({ messages: [{ role: 'user', content }], max_tokens: 4, temperature: 0, ...extra });
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

test.serial('a negative or huge seed is a 400, and the requests batched with it still get 200', async (t) => {
  const all = await Promise.all([
    post(server.url, ask('one', { temperature: 0.7, seed: 1 })),
    post(server.url, ask('two', { temperature: 0.7, seed: -1 })),
    post(server.url, ask('three', { temperature: 0.7 })),
    post(server.url, ask('four', { temperature: 0.7, seed: 2 ** 60 })),
  ]);
  t.deepEqual(
    all.map((r) => r.status),
    [200, 400, 200, 400],
  );
  t.regex((await all[1]!.json()).error.message, /seed/);
});

test.serial('a row whose generation fails fails alone; its batch-mates get their answers', async (t) => {
  // Fault injection around the real model: any batch holding the poisoned prompt throws.
  const marker = model.encodeChat([{ role: 'user', content: 'poison' }]);
  const faulty: TextModel = {
    id: model.id,
    maxContext: model.maxContext,
    vocabSize: model.vocabSize,
    encodeChatOffThread: (m) => model.encodeChatOffThread(m),
    encodeText: (text) => model.encodeText(text),
    finish: (...args) => model.finish(...args),
    scoreTokens: (...args) => model.scoreTokens(...args),
    generate: (requests, settings) =>
      requests.some(({ promptIds: p }) => p.length === marker.length && p.every((x, i) => x === marker[i]))
        ? Promise.reject(new Error('device fault'))
        : model.generate(requests, settings),
    dispose: async () => {},
  };
  const engine = new ChatEngine(faulty, { maxBatch: 8, windowMs: 50 });
  const results = await Promise.allSettled(
    ['hello', 'poison', 'world'].map((c) => engine.complete({ messages: [{ role: 'user', content: c }], maxNewTokens: 3, temperature: 0 })),
  );
  t.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  t.regex(String((results[1] as PromiseRejectedResult).reason), /device fault/);
  t.is(engine.stats.largestBatch, 3);
});

test.serial('a prompt over maxPromptBytes is refused with 400 before the tokenizer sees it; /health stays quick', async (t) => {
  const started = performance.now();
  const res = await post(server.url, ask('x'.repeat(5000)));
  t.is(res.status, 400);
  t.regex((await res.json()).error.message, /5\d{3} bytes of text; this server takes at most 4096/);
  t.is((await fetch(server.url + '/health')).status, 200);
  t.true(performance.now() - started < 5000);
});

test.serial('a malformed %-escape in the path is a 400, not a 500', async (t) => {
  const res = await fetch(server.url + '/v1/models/%E0%A4%A');
  t.is(res.status, 400);
  t.regex((await res.json()).error.message, /malformed %-escape/);
});

test.serial('--api-key: /v1 needs the bearer key; /health does not', async (t) => {
  t.is((await post(locked.url, ask('hi'))).status, 401);
  t.is((await post(locked.url, ask('hi'), { authorization: 'Bearer wrong' })).status, 401);
  t.is((await post(locked.url, ask('hi'), { authorization: `Bearer ${KEY}` })).status, 200);
  t.is((await fetch(locked.url + '/v1/models', { headers: { authorization: `Bearer ${KEY}` } })).status, 200);
  t.is((await fetch(locked.url + '/health')).status, 200);
});

test.serial('a loopback server answers only loopback Host names (DNS rebinding)', async (t) => {
  const status = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const url = new URL(server.url + '/v1/models');
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  t.is(await status('evil.example:8000'), 421);
  t.is(await status(`localhost:${new URL(server.url).port}`), 200);
  t.is(await status(`127.0.0.1:${new URL(server.url).port}`), 200);
});
