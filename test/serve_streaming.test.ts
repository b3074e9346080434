// Streamed answers from `serve` (tiny-chat fixture): generated a small group of tokens per native
// call and sent as each group is produced, the pieces adding up to the whole answer's text (greedy
// tokens identical to the one-shot call's), stop strings cut across groups, usage in the last
// chunk, a client that hangs up frees its place, and a failure mid-stream in OpenAI's error shape.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { ChatEngine, type TextModel } from '../lib/serve/chat_engine.js';
import { TextGenerator } from '../lib/inference/text_generator.js';
import { startServer, type RunningServer } from '../lib/serve/server.js';
import { readSse } from './helpers/sse.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));

let model: TextGenerator;
let engine: ChatEngine;
let server: RunningServer;
/** A hook into every generate call of the served model (a gate, a fault), reset by each test. */
let beforeGenerate: (call: number) => Promise<void> = async () => {};
let calls = 0;

/** The real model, with beforeGenerate run before each generate call. */
function hooked(m: TextGenerator): TextModel {
  return {
    id: m.id,
    maxContext: m.maxContext,
    vocabSize: m.vocabSize,
    encodeChatOffThread: (x) => m.encodeChatOffThread(x),
    encodeText: (x) => m.encodeText(x),
    finish: (...a) => m.finish(...a),
    scoreTokens: (...a) => m.scoreTokens(...a),
    generate: async (requests, settings) => {
      await beforeGenerate(calls++);
      return m.generate(requests, settings);
    },
    dispose: () => m.dispose(),
  };
}

test.before(async () => {
  model = await TextGenerator.load(MODEL);
  engine = new ChatEngine(hooked(model), { maxBatch: 8, windowMs: 5 });
  server = await startServer({ engine, modelId: 'tiny-chat', port: 0, defaultMaxTokens: 16, streamGroupTokens: 4 });
});
test.after.always(() => server?.close(1000));
test.beforeEach(() => {
  beforeGenerate = async () => {};
});

const post = (path: string, body: object, signal?: AbortSignal) =>
  fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
const chat = (content: string, extra: object = {}) => ({ messages: [{ role: 'user', content }], max_tokens: 32, temperature: 0, ...extra });

test.serial('greedy: the streamed tokens and text equal the one-shot answer, for any group size', async (t) => {
  for (const content of ['Tell me a story', 'Why is the sky blue?']) {
    const ids = await engine.prepare({ messages: [{ role: 'user', content }] }, 32);
    const whole = await engine.run(ids, { maxNewTokens: 32, temperature: 0 });
    for (const group of [1, 3, 4, 7, 32]) {
      const pieces = [];
      for await (const p of engine.stream(ids, { maxNewTokens: 32, temperature: 0 }, undefined, group)) pieces.push(p);
      t.deepEqual(
        pieces.flatMap((p) => p.ids),
        whole.ids,
        `${content}, groups of ${group}`,
      );
      t.is(pieces.map((p) => p.text).join(''), whole.text, `${content}, groups of ${group}`);
      t.is(pieces.at(-1)!.finishReason, whole.finishReason);
      t.is(pieces.at(-1)!.completionTokens, whole.completionTokens);
      t.is(pieces.length, Math.ceil(whole.ids.length / group), `one piece per generate call (${group})`);
    }
  }
});

test.serial('a sampled stream with a seed is reproducible', async (t) => {
  const ids = await engine.prepare({ text: 'Once upon a time' }, 24);
  const sample = async () => {
    const out = [];
    for await (const p of engine.stream(ids, { maxNewTokens: 24, temperature: 1, seed: 11, reproducible: true })) out.push(...p.ids);
    return out;
  };
  const a = await sample();
  t.is(a.length, 24);
  t.deepEqual(await sample(), a);
});

test.serial('a 32-token answer arrives as many chunks, the first while later tokens are not yet computed', async (t) => {
  // The second generate call of the stream waits until the client has read a chunk with text:
  // the first chunk is then provably on the wire before the rest of the answer exists.
  let release!: () => void;
  const clientHasText = new Promise<void>((resolve) => (release = resolve));
  let waitedInVain = false;
  const plain = await (await post('/v1/chat/completions', chat('Tell me a story'))).json();
  t.is(plain.usage.completion_tokens, 32, 'the fixture answer runs to its budget');
  const gateAt = calls;
  beforeGenerate = async (call) => {
    if (call !== gateAt + 1) return;
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref());
    if ((await Promise.race([clientHasText, timeout])) === 'timeout') waitedInVain = true;
  };
  const res = await post('/v1/chat/completions', chat('Tell me a story', { stream: true, stream_options: { include_usage: true } }));
  t.is(res.status, 200);
  const events = await readSse(res, (e) => {
    if (e.data?.choices?.[0]?.delta?.content) release();
  });
  t.false(waitedInVain, 'the first text chunk reached the client before the second group was generated');
  t.true(events.at(-1)!.done);
  const chunks = events.filter((e) => !e.done).map((e) => e.data);
  const texts = chunks.map((c) => c.choices[0]?.delta?.content).filter((x) => typeof x === 'string' && x !== '');
  t.true(texts.length >= 6, `32 tokens in ${texts.length} text chunks`);
  t.is(texts.join(''), plain.choices[0].message.content);
  t.is(chunks[0].choices[0].delta.role, 'assistant');
  t.is(chunks.filter((c) => c.choices[0]?.finish_reason).length, 1);
  t.is(chunks.find((c) => c.choices[0]?.finish_reason).choices[0].finish_reason, 'length');
  // include_usage: every chunk has usage null, the last one (no choices) the totals.
  t.true(chunks.slice(0, -1).every((c) => c.usage === null));
  t.deepEqual(chunks.at(-1).choices, []);
  t.deepEqual(chunks.at(-1).usage, plain.usage);
});

test.serial('stop strings cut a streamed answer where they cut the whole one, across group boundaries', async (t) => {
  const full = (await (await post('/v1/chat/completions', chat('Count for me', { max_tokens: 24 }))).json()).choices[0].message.content as string;
  // A stop string from the middle of the text, likely spanning two tokens of different groups.
  for (const at of [5, 11, 17]) {
    const stop = full.slice(at, at + 3);
    const whole = await (await post('/v1/chat/completions', chat('Count for me', { max_tokens: 24, stop }))).json();
    const events = await readSse(await post('/v1/chat/completions', chat('Count for me', { max_tokens: 24, stop, stream: true })));
    const text = events
      .filter((e) => !e.done)
      .map((e) => e.data.choices[0]?.delta?.content ?? '')
      .join('');
    t.is(text, whole.choices[0].message.content, JSON.stringify(stop));
    t.is(text, full.slice(0, full.indexOf(stop)));
    t.is(events.find((e) => e.data?.choices?.[0]?.finish_reason)?.data.choices[0].finish_reason, 'stop');
  }
});

test.serial('/v1/completions streams text chunks that add up to the whole completion', async (t) => {
  const body = { prompt: ['Once upon a time', 'The weather'], max_tokens: 20, temperature: 0 };
  const whole = await (await post('/v1/completions', body)).json();
  t.is(whole.object, 'text_completion');
  t.is(whole.choices.length, 2);
  const events = await readSse(await post('/v1/completions', { ...body, stream: true, stream_options: { include_usage: true } }));
  const chunks = events.filter((e) => !e.done).map((e) => e.data);
  t.true(chunks.every((c) => c.object === 'text_completion'));
  for (const i of [0, 1]) {
    const mine = chunks.filter((c) => c.choices[0]?.index === i);
    t.true(mine.length >= 4);
    t.is(mine.map((c) => c.choices[0].text).join(''), whole.choices[i].text);
    t.is(mine.at(-1).choices[0].finish_reason, whole.choices[i].finish_reason);
  }
  t.deepEqual(chunks.at(-1).usage, whole.usage);
});

test.serial('a client that hangs up mid-stream frees its place: no more groups are generated for it', async (t) => {
  const gone = new AbortController();
  const before = engine.stats.streamGroups;
  const res = await post('/v1/completions', { prompt: 'Once upon a time', max_tokens: 2000, temperature: 0, stream: true }, gone.signal);
  let seen = 0;
  await readSse(res, (e) => {
    if (e.data?.choices?.[0]?.text) seen++;
    return seen < 2;
  }).catch(() => []);
  gone.abort();
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
  await settle();
  const groups = engine.stats.streamGroups;
  await settle();
  t.is(engine.stats.streamGroups, groups, 'generation stopped once the client left');
  t.log(`${groups - before} groups generated before the hang-up took effect`);
  t.true(groups - before < 100, `${groups - before} groups generated in all, of the 500 that 2000 tokens would take`);
  t.is(engine.pending, 0);
  const health = await (await fetch(server.url + '/health')).json();
  t.is(health.queued, 0);
  const next = await post('/v1/chat/completions', chat('still there?', { max_tokens: 4 }));
  t.is(next.status, 200);
});

test.serial('a generation failure mid-stream arrives as an event in OpenAI error shape, then the stream ends', async (t) => {
  const from = calls;
  beforeGenerate = async (call) => {
    if (call >= from + 2) throw new Error('device fault');
  };
  const events = await readSse(await post('/v1/chat/completions', chat('Tell me a story', { stream: true })));
  const error = events.find((e) => e.data?.error);
  t.truthy(error);
  t.regex(error!.data.error.message, /generation failed: device fault/);
  t.is(error!.data.error.type, 'server_error');
  t.true('param' in error!.data.error && 'code' in error!.data.error);
  t.false(
    events.some((e) => e.done),
    'no [DONE] after an error',
  );
  beforeGenerate = async () => {};
  t.is((await post('/v1/chat/completions', chat('again', { max_tokens: 4 }))).status, 200);
});
