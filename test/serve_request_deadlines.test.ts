// `serve` bounds what one client can hold: a body shorter than its Content-Length gets a 408 and
// the connection closed after --body-timeout (it held the connection for minutes), and a prompt
// that a hostile tokenizer regex would tokenize for ever gets a 400 after --tokenize-timeout, while
// the server goes on answering.
import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TextGenerator } from '../lib/inference/text_generator.js';
import { ChatEngine } from '../lib/serve/chat_engine.js';
import { startServer, type RunningServer } from '../lib/serve/server.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));

let dir: string;
let server: RunningServer;

test.before(async () => {
  // tiny-chat with a Split pattern that passes the load-time check but backtracks exponentially.
  dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-serve-deadline-'));
  cpSync(MODEL, dir, { recursive: true });
  const file = path.join(dir, 'tokenizer.json');
  const json = JSON.parse(readFileSync(file, 'utf8'));
  json.pre_tokenizer.pretokenizers[0].pattern.Regex = '(a|a)*$';
  writeFileSync(file, JSON.stringify(json));
  const model = await TextGenerator.load(dir);
  const engine = new ChatEngine(model, { maxBatch: 2, tokenizeTimeoutMs: 1500 });
  server = await startServer({ engine, modelId: 'tiny-chat', port: 0, defaultMaxTokens: 2, bodyTimeoutMs: 1000 });
});
test.after.always(async () => {
  await server?.close(1000);
  rmSync(dir, { recursive: true, force: true });
});

test.serial('a body shorter than its Content-Length gets a 408 and a closed connection after the body timeout', async (t) => {
  const { port } = new URL(server.url);
  const started = performance.now();
  const socket = net.connect(Number(port), '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"messages":');
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  const closed = await new Promise<boolean>((resolve) => {
    socket.on('close', () => resolve(true));
    setTimeout(() => resolve(false), 10_000).unref();
  });
  const took = performance.now() - started;
  t.true(closed, `the connection was still open after ${took.toFixed(0)} ms; answer so far: ${answer}`);
  t.regex(answer, /^HTTP\/1\.1 408/);
  t.regex(answer, /the request body did not arrive within 1 s/);
  t.true(took >= 900, `answered after ${took.toFixed(0)} ms, before the timeout`);
});

test.serial('a prompt the tokenizer would backtrack on for ever is a 400 after the tokenize timeout; the server goes on', async (t) => {
  const started = performance.now();
  const res = await fetch(server.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'a'.repeat(40) + '!' }], max_tokens: 2, temperature: 0 }),
    signal: AbortSignal.timeout(30_000),
  });
  const took = performance.now() - started;
  t.is(res.status, 400);
  t.regex((await res.json()).error.message, /tokenizing the prompt took longer than 1\.5 s .*was stopped/);
  t.true(took < 20_000, `took ${took.toFixed(0)} ms`);
  const health = await fetch(server.url + '/health');
  t.is(health.status, 200);
  const ok = await fetch(server.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, temperature: 0 }),
    signal: AbortSignal.timeout(30_000),
  });
  t.is(ok.status, 200, await ok.clone().text());
});
