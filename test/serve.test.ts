// `serve` over a real tiny model (test/fixtures/models/tiny-chat): the OpenAI endpoints, batching,
// streaming, stop strings, and 4xx answers to malformed requests while the server keeps serving.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { ChatEngine } from '../lib/serve/chat_engine.js';
import { TextGenerator } from '../lib/inference/text_generator.js';
import { startServer, type RunningServer } from '../lib/serve/server.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));

let server: RunningServer;
let engine: ChatEngine;

test.before(async () => {
  engine = new ChatEngine(await TextGenerator.load(MODEL), { maxBatch: 8, windowMs: 20 });
  server = await startServer({ engine, modelId: 'tiny-chat', port: 0, defaultMaxTokens: 16 });
});
test.after.always(() => server?.close(1000));

const post = (body: unknown, path = '/v1/chat/completions') =>
  fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

const ask = (content: string, extra: object = {}) => ({
  model: 'tiny-chat',
  messages: [{ role: 'user', content }],
  max_tokens: 12,
  temperature: 0,
  ...extra,
});

test.serial('binds 127.0.0.1; GET /health and /v1/models', async (t) => {
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await (await fetch(`${server.url}/health`)).json();
  t.is(health.status, 'ok');
  t.is(health.model, 'tiny-chat');
  const models = await (await fetch(`${server.url}/v1/models`)).json();
  t.deepEqual(
    models.data.map((m: { id: string }) => m.id),
    ['tiny-chat'],
  );
  t.is(models.object, 'list');
  t.is((await fetch(`${server.url}/v1/models/tiny-chat`)).status, 200);
  t.is((await fetch(`${server.url}/v1/models/other`)).status, 404);
});

test.serial('a chat completion: text, usage, finish_reason; greedy is deterministic', async (t) => {
  const res = await post(ask('Why is the sky blue?'));
  t.is(res.status, 200);
  const body = await res.json();
  t.is(body.object, 'chat.completion');
  t.is(body.model, 'tiny-chat');
  t.is(body.choices.length, 1);
  t.is(body.choices[0].message.role, 'assistant');
  t.is(typeof body.choices[0].message.content, 'string');
  t.true(['stop', 'length'].includes(body.choices[0].finish_reason));
  t.true(body.usage.prompt_tokens > 5);
  t.true(body.usage.completion_tokens >= 1 && body.usage.completion_tokens <= 12);
  t.is(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
  const again = await (await post(ask('Why is the sky blue?'))).json();
  t.is(again.choices[0].message.content, body.choices[0].message.content);
  // max_completion_tokens wins over max_tokens, and the default applies when neither is given.
  const short = await (await post(ask('Why is the sky blue?', { max_completion_tokens: 3 }))).json();
  t.true(short.usage.completion_tokens <= 3);
  const { max_tokens: _, ...noMax } = ask('Why?');
  const dflt = await (await post(noMax)).json();
  t.true(dflt.usage.completion_tokens <= 16);
});

test.serial('concurrent requests are batched, and each gets the answer it would get alone', async (t) => {
  const prompts = ['one', 'two two', 'three three three', 'four', 'five five', 'six'];
  const alone: string[] = [];
  for (const p of prompts) alone.push((await (await post(ask(p))).json()).choices[0].message.content);
  const before = { ...engine.stats };
  const together = await Promise.all(prompts.map(async (p) => (await (await post(ask(p))).json()).choices[0].message.content));
  const batches = engine.stats.batches - before.batches;
  t.true(batches < prompts.length, `6 requests in ${batches} generate calls`);
  t.true(engine.stats.largestBatch > 1);
  t.deepEqual(together, alone);
});

test.serial('stream: true sends SSE chunks that add up to the same text, then [DONE]', async (t) => {
  const plain = (await (await post(ask('Tell me a story'))).json()).choices[0].message.content;
  const res = await post(ask('Tell me a story', { stream: true, stream_options: { include_usage: true } }));
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events = (await res.text()).split('\n\n').filter(Boolean);
  t.is(events.at(-1), 'data: [DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')));
  t.true(chunks.every((c) => c.object === 'chat.completion.chunk'));
  t.is(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), plain);
  t.truthy(chunks.find((c) => c.choices[0]?.finish_reason));
  t.true(chunks.at(-1).usage.completion_tokens >= 1);
});

test.serial('stop strings end the text', async (t) => {
  const full = (await (await post(ask('Count for me', { max_tokens: 16 }))).json()).choices[0].message.content as string;
  t.true(full.length > 4, `the fixture model says something (${JSON.stringify(full)})`);
  const stop = full.slice(2, 4);
  const cut = await (await post(ask('Count for me', { max_tokens: 16, stop: [stop] }))).json();
  t.is(cut.choices[0].message.content, full.slice(0, full.indexOf(stop)));
  t.is(cut.choices[0].finish_reason, 'stop');
});

test.serial('malformed requests get 4xx errors in OpenAI shape, and the server keeps serving', async (t) => {
  const cases: Array<[string, Promise<Response>, number, RegExp, string | null]> = [
    ['bad JSON', post('{"messages": ['), 400, /not valid JSON/, null],
    ['not an object', post('[1,2]'), 400, /JSON object/, null],
    ['no messages', post({ model: 'tiny-chat' }), 400, /messages/, 'messages'],
    ['empty messages', post({ messages: [] }), 400, /messages/, 'messages'],
    ['bad role', post({ messages: [{ role: 'robot', content: 'x' }] }), 400, /messages\.0\.role/, 'messages.0.role'],
    ['content not text', post({ messages: [{ role: 'user', content: 42 }] }), 400, /messages\.0\.content/, 'messages.0.content'],
    ['temperature a string', post(ask('x', { temperature: 'hot' })), 400, /temperature/, 'temperature'],
    ['max_tokens negative', post(ask('x', { max_tokens: -1 })), 400, /max_tokens/, 'max_tokens'],
    ['n over the bound', post(ask('x', { n: 9 })), 400, /at most 8 choices/, 'n'],
    ['top_logprobs without logprobs', post(ask('x', { top_logprobs: 2 })), 400, /needs "logprobs": true/, 'top_logprobs'],
    ['top_logprobs over 20', post(ask('x', { logprobs: true, top_logprobs: 21 })), 400, /top_logprobs/, 'top_logprobs'],
    ['unknown model', post(ask('x', { model: 'gpt-9' })), 404, /gpt-9.*tiny-chat/, 'model'],
    ['too long for the context', post(ask('x', { max_tokens: 100_000 })), 400, /context of 4096 tokens/, 'messages'],
    ['wrong method', fetch(`${server.url}/v1/chat/completions`), 405, /use POST/, null],
    ['unknown path', post({}, '/v1/embeddings'), 404, /no route/, null],
    ['completions without a prompt', post({ max_tokens: 2 }, '/v1/completions'), 400, /prompt/, 'prompt'],
    ['completions echo', post({ prompt: 'x', echo: true }, '/v1/completions'), 400, /echo/, 'echo'],
    ['completions token id outside the vocabulary', post({ prompt: [5, 99999] }, '/v1/completions'), 400, /token 1 is 99999/, 'prompt'],
    ['completions over the context', post({ prompt: 'x', max_tokens: 100_000 }, '/v1/completions'), 400, /context of 4096 tokens/, 'prompt'],
    ['completions best_of', post({ prompt: 'x', best_of: 3 }, '/v1/completions'), 400, /best_of/, 'best_of'],
  ];
  for (const [what, pending, status, message, param] of cases) {
    const res = await pending;
    t.is(res.status, status, what);
    const body = await res.json();
    t.regex(body.error.message, message, what);
    t.is(body.error.param, param, what);
    t.is(typeof body.error.type, 'string', what);
    t.true('code' in body.error, what);
  }
  const ok = await post(ask('still there?'));
  t.is(ok.status, 200);
});
