// `n` choices from `serve` (tiny-chat fixture): up to 8 per prompt, choice i of a request with a
// seed sampled exactly as a one-choice request with seed + i would be (reproducible, distinct),
// choices of an unseeded request distinct, and prompts × n ordered as OpenAI orders them.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { ChatEngine } from '../lib/serve/chat_engine.js';
import { TextGenerator } from '../lib/inference/text_generator.js';
import { startServer, type RunningServer } from '../lib/serve/server.js';
import { readSse } from './helpers/sse.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));

let server: RunningServer;

test.before(async () => {
  server = await startServer({ engine: new ChatEngine(await TextGenerator.load(MODEL), { maxBatch: 8, windowMs: 10 }), modelId: 'tiny-chat', port: 0 });
});
test.after.always(() => server?.close(1000));

const post = (path: string, body: object) =>
  fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const chat = (extra: object) => ({ messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 12, temperature: 1, ...extra });
const texts = (body: any): string[] => body.choices.map((c: any) => c.message?.content ?? c.text);

test.serial('n=3 with a seed: choice i is the n=1 answer with seed + i; the same request gives the same choices', async (t) => {
  const res = await post('/v1/chat/completions', chat({ n: 3, seed: 40 }));
  t.is(res.status, 200);
  const body = await res.json();
  t.deepEqual(
    body.choices.map((c: any) => c.index),
    [0, 1, 2],
  );
  const singles = await Promise.all([40, 41, 42].map(async (seed) => (await post('/v1/chat/completions', chat({ seed }))).json()));
  t.deepEqual(
    texts(body),
    singles.map((b) => texts(b)[0]),
  );
  t.is(new Set(texts(body)).size, 3, 'three distinct samples');
  t.deepEqual(texts(await (await post('/v1/chat/completions', chat({ n: 3, seed: 40 }))).json()), texts(body));
  // Usage counts the prompt once and every choice's tokens.
  t.is(body.usage.prompt_tokens, singles[0].usage.prompt_tokens);
  t.is(
    body.usage.completion_tokens,
    singles.reduce((n, b) => n + b.usage.completion_tokens, 0),
  );
});

test.serial('n=4 without a seed: distinct choices; greedy choices are all the greedy answer', async (t) => {
  const sampled = await (await post('/v1/chat/completions', chat({ n: 4 }))).json();
  t.is(new Set(texts(sampled)).size, 4);
  const greedy = await (await post('/v1/chat/completions', chat({ n: 4, temperature: 0 }))).json();
  t.is(new Set(texts(greedy)).size, 1);
});

test.serial('completions: prompts × n choices, prompt p choice i at index p·n + i, streamed the same', async (t) => {
  const body = { prompt: ['Once upon a time', 'The weather'], n: 2, max_tokens: 8, temperature: 0.8, seed: 3 };
  const whole = await (await post('/v1/completions', body)).json();
  t.deepEqual(
    whole.choices.map((c: any) => c.index),
    [0, 1, 2, 3],
  );
  const single = async (prompt: string, seed: number) => texts(await (await post('/v1/completions', { ...body, prompt, n: 1, seed })).json())[0];
  t.deepEqual(texts(whole), [
    await single('Once upon a time', 3),
    await single('Once upon a time', 4),
    await single('The weather', 3),
    await single('The weather', 4),
  ]);
  // Streamed: every choice's chunks add up to a text of its own, and each choice finishes once.
  const events = (await readSse(await post('/v1/completions', { ...body, stream: true }))).filter((e) => !e.done);
  for (const i of [0, 1, 2, 3]) t.is(events.filter((e) => e.data.choices[0]?.index === i && e.data.choices[0].finish_reason).length, 1);
  const again = (await readSse(await post('/v1/completions', { ...body, stream: true }))).filter((e) => !e.done);
  const joined = (evs: typeof events) =>
    [0, 1, 2, 3].map((i) =>
      evs
        .filter((e) => e.data.choices[0]?.index === i)
        .map((e) => e.data.choices[0].text)
        .join(''),
    );
  t.deepEqual(joined(again), joined(events), 'a seeded stream is reproducible');
});

test.serial('n is bounded: 8 per prompt, 64 per request', async (t) => {
  const over = await post('/v1/chat/completions', chat({ n: 9 }));
  t.is(over.status, 400);
  t.is((await over.json()).error.param, 'n');
  const many = await post('/v1/completions', { prompt: Array.from({ length: 9 }, () => 'x'), n: 8, max_tokens: 1 });
  t.is(many.status, 400);
  t.regex((await many.json()).error.message, /9 prompts × n=8 is 72 choices; this server answers at most 64/);
  t.is((await post('/v1/chat/completions', chat({ n: 8, max_tokens: 2 }))).status, 200);
});
