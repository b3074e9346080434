// The OpenAI-compatible client and the rationale run against a real local HTTP server:
// retries (429 with Retry-After, 5xx, timeouts, dropped connections), bounds, keys, model discovery.
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PreferencePair } from '../lib/data/schema.js';
import { generateRationales } from '../lib/rationales/generate.js';
import { OpenAIGenerator, normaliseBaseURL } from '../lib/llm/openai_generator.js';
import { builtinTemplate, checkTemplate, loadTemplate, rationaleRequest } from '../lib/rationales/prompts.js';
import { GeneratorError, backoffDelay, parseRetryAfter, withRetry, type RetryPolicy } from '../lib/llm/retry.js';
import { startChatServer } from './helpers/chat_server.js';

const FIXTURE = new URL('./fixtures/rationales/orca-8.jsonl', import.meta.url);
const pairs: PreferencePair[] = readFileSync(FIXTURE, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));

const FAST: RetryPolicy = { maxAttempts: 5, baseDelayMs: 40, maxDelayMs: 1000, maxRetryAfterMs: 5000 };
const sampling = { maxNewTokens: 64, temperature: 0 };
const tmp = () => mkdtempSync(join(tmpdir(), 'rdpo-rat-'));
const quiet = () => {};

test('normaliseBaseURL appends /v1 only to a bare host', (t) => {
  t.is(normaliseBaseURL('http://127.0.0.1:8000'), 'http://127.0.0.1:8000/v1');
  t.is(normaliseBaseURL('http://127.0.0.1:8000/'), 'http://127.0.0.1:8000/v1');
  t.is(normaliseBaseURL('https://api.openai.com/v1/'), 'https://api.openai.com/v1');
  t.is(normaliseBaseURL('http://h:11434/api/v1'), 'http://h:11434/api/v1');
  t.throws(() => normaliseBaseURL('localhost:8000'), { message: /not an http\(s\) URL/ });
  t.throws(() => normaliseBaseURL('::'), { message: /not a URL/ });
});

test('Retry-After parsing: seconds, HTTP date, retry-after-ms, garbage', (t) => {
  const h = (o: Record<string, string>) => (n: string) => o[n];
  t.is(parseRetryAfter(h({ 'retry-after': '2' })), 2000);
  t.is(parseRetryAfter(h({ 'retry-after-ms': '150', 'retry-after': '9' })), 150);
  t.is(parseRetryAfter(h({ 'retry-after': new Date(10_000).toUTCString() }), 7_000), 3000);
  t.is(parseRetryAfter(h({ 'retry-after': 'soon' })), undefined);
  t.is(parseRetryAfter(h({})), undefined);
});

test('backoff doubles, is capped, and jitters within [d/2, d]', (t) => {
  const p = { ...FAST, baseDelayMs: 100, maxDelayMs: 350 };
  t.is(
    backoffDelay(1, p, () => 0),
    50,
  );
  t.is(
    backoffDelay(1, p, () => 1),
    100,
  );
  t.is(
    backoffDelay(2, p, () => 1),
    200,
  );
  t.is(
    backoffDelay(3, p, () => 1),
    350,
  );
  t.is(
    backoffDelay(9, p, () => 0),
    175,
  );
});

test('withRetry stops at once on a non-retryable error and after maxAttempts on retryable ones', async (t) => {
  let calls = 0;
  await t.throwsAsync(
    withRetry(async () => {
      calls++;
      throw new GeneratorError('bad request', false, { status: 400 });
    }, FAST),
    { message: 'bad request' },
  );
  t.is(calls, 1);
  calls = 0;
  await t.throwsAsync(
    withRetry(
      async () => {
        calls++;
        throw new GeneratorError('busy', true, { status: 503 });
      },
      { ...FAST, maxAttempts: 3 },
    ),
    { message: 'busy' },
  );
  t.is(calls, 3);
});

test('templates: the built-in ones fill every slot; a missing slot is an error naming it', (t) => {
  for (const style of ['general', 'detailed'] as const) {
    const text = rationaleRequest(builtinTemplate(style), pairs[0]!);
    t.true(text.includes(pairs[0]!.chosen));
    t.true(text.includes(pairs[0]!.rejected));
    t.false(/\{(prompt|chosen|rejected)\}/.test(builtinTemplate(style).text.replace(/\{(prompt|chosen|rejected)\}/g, '')));
  }
  t.true(rationaleRequest(builtinTemplate('general'), pairs[0]!).includes('high, general level'));
  t.true(rationaleRequest(builtinTemplate('detailed'), pairs[0]!).includes('specifically and in detail'));
  const dir = tmp();
  const file = join(dir, 'tpl.txt');
  writeFileSync(file, 'Prompt: {prompt}\nBetter: {chosen}\n');
  t.throws(() => loadTemplate(file), { message: /missing the slot \{rejected\}/ });
  t.throws(() => checkTemplate({ source: 'x', text: 'nothing' }), { message: /\{prompt\}, \{chosen\}, \{rejected\}/ });
  writeFileSync(file, 'P={prompt} C={chosen} R={rejected}');
  // A slot value containing slot syntax is not expanded again.
  const filled = rationaleRequest(loadTemplate(file), { ...pairs[0]!, prompt: 'say {chosen}', system: undefined } as PreferencePair);
  t.is(filled, `P=say {chosen} C=${pairs[0]!.chosen} R=${pairs[0]!.rejected}`);
});

test('a full run writes one row per pair with the rationale, style, model and token counts', async (t) => {
  const server = await startChatServer({ models: ['only-model'] });
  t.teardown(() => server.close());
  const generator = await OpenAIGenerator.connect({ baseURL: server.url });
  t.is(generator.model, 'only-model', 'the single served model is picked without --generator-model');
  const out = join(tmp(), 'out.jsonl');
  const summary = await generateRationales({
    pairs,
    outFile: out,
    style: 'general',
    template: builtinTemplate('general'),
    generator,
    sampling,
    concurrency: 3,
    retry: FAST,
    progress: false,
    log: quiet,
  });
  t.is(summary.done, pairs.length);
  t.is(summary.failed.length, 0);
  t.true(summary.promptTokens > 0 && summary.completionTokens > 0);
  const rows = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(rows.map((r) => r.id).sort(), pairs.map((p) => p.id).sort());
  for (const r of rows) {
    t.regex(r.rationale, /^Rationale [0-9a-f]{12}: /);
    t.is(r.rationale_style, 'general');
    t.is(r.rationale_model, 'only-model');
  }
  const first = server.chatRequests()[0]!;
  t.is(first.body.model, 'only-model');
  t.is(first.body.max_tokens, 64);
  t.is(first.body.messages.length, 1);
  t.is(first.body.messages[0].role, 'user');

  // Same command again: everything is already done.
  const before = server.chatRequests().length;
  const again = await generateRationales({
    pairs,
    outFile: out,
    style: 'general',
    template: builtinTemplate('general'),
    generator,
    sampling,
    concurrency: 3,
    retry: FAST,
    progress: false,
    log: quiet,
  });
  t.is(again.skipped, pairs.length);
  t.is(again.done, 0);
  t.is(server.chatRequests().length, before);
  // Another style is another job.
  const detailed = await generateRationales({
    pairs: pairs.slice(0, 2),
    outFile: out,
    style: 'detailed',
    template: builtinTemplate('detailed'),
    generator,
    sampling,
    concurrency: 2,
    retry: FAST,
    progress: false,
    log: quiet,
  });
  t.is(detailed.done, 2);
});

test('429 with Retry-After and 500s are retried with backoff until success', async (t) => {
  // Pair requests: #0 → 429 (Retry-After: 1), #1 → 500, #2 → 502, #3 → ok.
  const server = await startChatServer({
    script: (n) => (n === 0 ? { status: 429, retryAfter: '1' } : n === 1 ? { status: 500 } : n === 2 ? { status: 502 } : undefined),
  });
  t.teardown(() => server.close());
  const generator = await OpenAIGenerator.connect({ baseURL: server.url, model: 'test-model' });
  const out = join(tmp(), 'out.jsonl');
  const summary = await generateRationales({
    pairs: pairs.slice(0, 1),
    outFile: out,
    style: 'detailed',
    template: builtinTemplate('detailed'),
    generator,
    sampling,
    concurrency: 1,
    retry: { ...FAST, baseDelayMs: 200 },
    progress: false,
    log: quiet,
  });
  t.is(summary.done, 1);
  t.is(summary.failed.length, 0);
  const at = server.chatRequests().map((r) => r.at);
  t.is(at.length, 4);
  t.true(at[1]! - at[0]! >= 990, `Retry-After: 1 respected (waited ${at[1]! - at[0]!} ms)`);
  // Backoff after the 2nd and 3rd tries: in [d/2, d] with d = 200·2^(k-1) ms.
  t.true(at[2]! - at[1]! >= 195, `backoff 2: ${at[2]! - at[1]!} ms`);
  t.true(at[3]! - at[2]! >= 395, `backoff 3: ${at[3]! - at[2]!} ms`);
  t.true(at[3]! - at[2]! < 1500);
});

test('a bounded number of attempts: a pair that always gets 503 fails and is reported, a 400 is not retried', async (t) => {
  const server = await startChatServer({
    script: (_n, req) => (String(req.body.messages[0].content).includes(pairs[0]!.chosen) ? { status: 503 } : { status: 400 }),
  });
  t.teardown(() => server.close());
  const generator = await OpenAIGenerator.connect({ baseURL: server.url, model: 'test-model' });
  const out = join(tmp(), 'out.jsonl');
  const summary = await generateRationales({
    pairs: pairs.slice(0, 2),
    outFile: out,
    style: 'general',
    template: builtinTemplate('general'),
    generator,
    sampling,
    concurrency: 2,
    retry: { ...FAST, maxAttempts: 3 },
    progress: false,
    log: quiet,
  });
  t.is(summary.done, 0);
  t.is(summary.failed.length, 2);
  const byId = new Map(summary.failed.map((f) => [f.id, f.error]));
  t.regex(byId.get(pairs[0]!.id)!, /HTTP 503/);
  t.regex(byId.get(pairs[1]!.id)!, /HTTP 400/);
  const requests = server.chatRequests();
  t.is(requests.filter((r) => String(r.body.messages[0].content).includes(pairs[0]!.chosen)).length, 3);
  t.is(requests.length, 4);
  t.is(readFileSync(out, 'utf8'), '', 'failed pairs are not written: the next run retries them');
});

test('a slow answer times out and the retry succeeds; a dropped connection is retried too', async (t) => {
  const server = await startChatServer({ script: (n) => (n === 0 ? { delayMs: 3000 } : n === 1 ? { destroy: true } : undefined) });
  t.teardown(() => server.close());
  const generator = await OpenAIGenerator.connect({ baseURL: server.url, model: 'test-model', timeoutMs: 300 });
  const started = Date.now();
  const errors: string[] = [];
  const result = await withRetry(() => generator.complete([{ role: 'user', content: 'hi' }], sampling), FAST, {
    onRetry: (e) => errors.push(e.error.message),
  });
  t.regex(result.text, /^Rationale /);
  t.is(errors.length, 2);
  t.regex(errors[0]!, /timed out after 0\.3 s/);
  t.regex(errors[1]!, /connection error/);
  t.true(Date.now() - started < 2500, 'the timeout cut the slow answer short');
});

test('the API key is sent but never appears in an error message, even when the server echoes it', async (t) => {
  const key = 'sk-test-SECRET-1234567890';
  process.env.RDPO_TEST_KEY = key;
  t.teardown(() => delete process.env.RDPO_TEST_KEY);
  const server = await startChatServer({
    script: (_n, req) => ({ status: 401, body: { error: { message: `bad key: ${req.headers.authorization}` } } }),
  });
  t.teardown(() => server.close());
  const generator = await OpenAIGenerator.connect({ baseURL: server.url, model: 'test-model', apiKeyEnv: 'RDPO_TEST_KEY' });
  const err = await t.throwsAsync(generator.complete([{ role: 'user', content: 'hi' }], sampling));
  t.is(server.chatRequests()[0]!.headers.authorization, `Bearer ${key}`);
  t.false(err!.message.includes(key));
  t.false(String(err!.stack).includes(key));
  t.regex(err!.message, /HTTP 401.*\[redacted\]/);
  t.false((err as GeneratorError).retryable);
  await t.throwsAsync(OpenAIGenerator.connect({ baseURL: server.url, apiKeyEnv: 'RDPO_NO_SUCH_VAR' }), { message: /RDPO_NO_SUCH_VAR.*not set/ });
});

test('several served models without --generator-model: the error lists them', async (t) => {
  const server = await startChatServer({ models: ['alpha', 'beta'] });
  t.teardown(() => server.close());
  await t.throwsAsync(OpenAIGenerator.connect({ baseURL: server.url }), { message: /serves 2 models.*alpha, beta/ });
  const g = await OpenAIGenerator.connect({ baseURL: server.url, model: 'beta' });
  t.is(g.model, 'beta');
});

test('a refused connection is a clear error', async (t) => {
  const server = await startChatServer();
  const url = server.url;
  await server.close();
  const g = await OpenAIGenerator.connect({ baseURL: url, model: 'm' });
  const err = await t.throwsAsync(withRetry(() => g.complete([{ role: 'user', content: 'x' }], sampling), { ...FAST, maxAttempts: 2 }));
  t.regex(err!.message, /connection error .*ECONNREFUSED/);
});
