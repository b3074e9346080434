// The API key never reaches an error message, whatever the server echoes back: the
// text is redacted before it is cut, on the error-status path and the not-JSON-200 path alike.
import test from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAIGenerator, snippet } from '../lib/llm/openai_generator.js';

const KEY = 'sk-test-0123456789abcdefghijklmnopqrstuvwxyz0123456789';

async function serve(answer: (path: string) => { status: number; body: string }) {
  const server = createServer((req, res) => {
    const { status, body } = answer(req.url ?? '');
    res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function assertNoKey(t: { false: (v: boolean, m?: string) => void }, message: string) {
  t.false(message.includes(KEY), 'whole key');
  // No prefix of 8+ characters either (a cut at 200 characters used to leave one).
  t.false(message.includes(KEY.slice(0, 8)), `key prefix in: ${message}`);
}

test('a 200 answer that is not JSON and echoes the key: the error holds no part of it', async (t) => {
  process.env.FAULTS_KEY_A = KEY;
  const s = await serve(() => ({ status: 200, body: `proxy says: Authorization: Bearer ${KEY} rejected` }));
  t.teardown(s.close);
  const gen = await OpenAIGenerator.connect({ baseURL: s.url, model: 'm', apiKeyEnv: 'FAULTS_KEY_A', timeoutMs: 5000 });
  const err = await t.throwsAsync(gen.complete([{ role: 'user', content: 'hi' }], { maxNewTokens: 4, temperature: 0 }));
  t.regex(err.message, /not JSON.*\[redacted\]/);
  assertNoKey(t, err.message);
});

test('an error status whose body puts the key across the 200-character cut: nothing of it is printed', async (t) => {
  process.env.FAULTS_KEY_B = KEY;
  const s = await serve(() => ({ status: 401, body: 'x'.repeat(190) + KEY }));
  t.teardown(s.close);
  const gen = await OpenAIGenerator.connect({ baseURL: s.url, model: 'm', apiKeyEnv: 'FAULTS_KEY_B', timeoutMs: 5000 });
  const err = await t.throwsAsync(gen.complete([{ role: 'user', content: 'hi' }], { maxNewTokens: 4, temperature: 0 }));
  t.regex(err.message, /^HTTP 401/);
  assertNoKey(t, err.message);
  // The same with an OpenAI-shaped JSON error message.
  const s2 = await serve(() => ({ status: 400, body: JSON.stringify({ error: { message: `bad key ${KEY}` } }) }));
  t.teardown(s2.close);
  const gen2 = await OpenAIGenerator.connect({ baseURL: s2.url, model: 'm', apiKeyEnv: 'FAULTS_KEY_B', timeoutMs: 5000 });
  const err2 = await t.throwsAsync(gen2.complete([{ role: 'user', content: 'hi' }], { maxNewTokens: 4, temperature: 0 }));
  t.regex(err2.message, /bad key \[redacted\]/);
  assertNoKey(t, err2.message);
});

test('snippet redacts before cutting', (t) => {
  t.is(snippet('ab' + KEY, KEY, 10), 'ab[redacte…');
  t.is(snippet('short', KEY, 10), 'short');
});
