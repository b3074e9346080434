// The official OpenAI clients against `serve` (tiny-chat fixture): the `openai` npm package (v6)
// always, the `openai` Python package where python3 has it. Each streams a chat answer in many
// chunks, samples n choices, reads log-probs, uses /v1/completions (streamed too), gets usage, and
// sees a bad request as the client's own 400 error with OpenAI's fields.
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { ChatEngine } from '../lib/serve/chat_engine.js';
import { TextGenerator } from '../lib/inference/text_generator.js';
import { startServer, type RunningServer } from '../lib/serve/server.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));

let engine: ChatEngine;
let server: RunningServer;
let client: OpenAI;

test.before(async () => {
  engine = new ChatEngine(await TextGenerator.load(MODEL), { maxBatch: 8 });
  server = await startServer({ engine, modelId: 'tiny-chat', port: 0, streamGroupTokens: 4 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-checked', maxRetries: 0 });
});
test.after.always(() => server?.close(1000));

const messages = [{ role: 'user' as const, content: 'Tell me a story' }];

test.serial('node openai: models, a chat completion with n, seed and logprobs', async (t) => {
  t.deepEqual(
    (await client.models.list()).data.map((m) => m.id),
    ['tiny-chat'],
  );
  const r = await client.chat.completions.create({
    model: 'tiny-chat',
    messages,
    max_completion_tokens: 10,
    temperature: 1,
    seed: 5,
    n: 2,
    logprobs: true,
    top_logprobs: 3,
  });
  t.is(r.choices.length, 2);
  t.not(r.choices[0]!.message.content, r.choices[1]!.message.content);
  for (const c of r.choices) {
    t.is(c.logprobs!.content!.length, 10);
    t.true(c.logprobs!.content!.every((e) => e.logprob <= 0 && e.top_logprobs.length === 3));
  }
  t.is(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
  const again = await client.chat.completions.create({ model: 'tiny-chat', messages, max_completion_tokens: 10, temperature: 1, seed: 6 });
  t.is(again.choices[0]!.message.content, r.choices[1]!.message.content, 'choice 1 of seed 5 is the answer of seed 6');
});

test.serial('node openai: a streamed chat answer of 32 tokens arrives in many chunks, usage last', async (t) => {
  const whole = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 32, temperature: 0 });
  const stream = await client.chat.completions.create({
    model: 'tiny-chat',
    messages,
    max_tokens: 32,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  const pieces: string[] = [];
  let usage;
  let finish;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (c?.delta.content) pieces.push(c.delta.content);
    if (c?.finish_reason) finish = c.finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  t.true(pieces.length >= 6, `${pieces.length} chunks with text`);
  t.is(pieces.join(''), whole.choices[0]!.message.content ?? '');
  t.is(finish, 'length');
  t.deepEqual(usage, whole.usage);
});

test.serial('node openai: completions, a list of prompts, streamed, with logprobs', async (t) => {
  const r = await client.completions.create({ model: 'tiny-chat', prompt: ['Once upon a time', 'The weather'], max_tokens: 12, temperature: 0, logprobs: 2 });
  t.is(r.choices.length, 2);
  t.is(r.choices[0]!.logprobs!.tokens!.length, 12);
  t.is(Object.keys(r.choices[0]!.logprobs!.top_logprobs![0]!).length, 2);
  const stream = await client.completions.create({ model: 'tiny-chat', prompt: 'Once upon a time', max_tokens: 12, temperature: 0, stream: true });
  const pieces: string[] = [];
  for await (const chunk of stream) if (chunk.choices[0]?.text) pieces.push(chunk.choices[0].text);
  t.true(pieces.length >= 2);
  t.is(pieces.join(''), r.choices[0]!.text);
});

test.serial("node openai: errors are the client's typed errors with OpenAI's fields; an aborted stream frees the server", async (t) => {
  const err = await t.throwsAsync(client.chat.completions.create({ model: 'tiny-chat', messages, n: 9 }), { instanceOf: OpenAI.BadRequestError });
  t.is(err!.status, 400);
  t.is(err!.param, 'n');
  t.is(err!.type, 'invalid_request_error');
  await t.throwsAsync(client.chat.completions.create({ model: 'gpt-9', messages }), { instanceOf: OpenAI.NotFoundError });
  const before = engine.stats.streamGroups;
  const stream = await client.completions.create({ model: 'tiny-chat', prompt: 'Once upon a time', max_tokens: 2000, temperature: 0, stream: true });
  let seen = 0;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.text && ++seen === 2) stream.controller.abort();
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const groups = engine.stats.streamGroups;
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(engine.stats.streamGroups, groups);
  t.true(groups - before < 100);
  t.is(engine.pending, 0);
});

const PYTHON_CHECK = `
import json, sys, openai
client = openai.OpenAI(base_url=sys.argv[1], api_key="not-checked", max_retries=0)
msgs = [{"role": "user", "content": "Tell me a story"}]
out = {"version": openai.__version__}
whole = client.chat.completions.create(model="tiny-chat", messages=msgs, max_tokens=32, temperature=0)
out["whole"] = whole.choices[0].message.content
pieces, usage = [], None
for chunk in client.chat.completions.create(model="tiny-chat", messages=msgs, max_tokens=32, temperature=0, stream=True, stream_options={"include_usage": True}):
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
    if chunk.usage:
        usage = chunk.usage.completion_tokens
out["pieces"], out["usage"] = pieces, usage
n = client.chat.completions.create(model="tiny-chat", messages=msgs, max_tokens=8, temperature=1, seed=9, n=3, logprobs=True, top_logprobs=2)
out["n"] = [c.message.content for c in n.choices]
out["logprobs"] = [[e.logprob for e in c.logprobs.content] for c in n.choices]
comp = client.completions.create(model="tiny-chat", prompt="Once upon a time", max_tokens=12, temperature=0, logprobs=1)
out["completion"] = comp.choices[0].text
out["completion_logprobs"] = comp.choices[0].logprobs.token_logprobs
out["completion_pieces"] = [c.choices[0].text for c in client.completions.create(model="tiny-chat", prompt="Once upon a time", max_tokens=12, temperature=0, stream=True) if c.choices]
try:
    client.chat.completions.create(model="tiny-chat", messages=msgs, n=9)
    out["error"] = None
except openai.BadRequestError as e:
    out["error"] = {"status": e.status_code, "param": e.body.get("param"), "type": e.body.get("type")}
print(json.dumps(out))
`;

const python = spawnSync('python3', ['-c', 'import openai'], { encoding: 'utf8' });
const pythonMissing = python.error
  ? 'python3 is not installed'
  : python.status !== 0
    ? 'the openai Python package is not installed (pip install openai)'
    : undefined;
if (pythonMissing) console.log(`skipping the Python client check: ${pythonMissing}`);

(pythonMissing ? test.skip : test.serial)('python openai: streams many chunks, samples n, reads log-probs, completes, raises 400', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'serve-openai-py-'));
  const script = path.join(dir, 'check.py');
  writeFileSync(script, PYTHON_CHECK);
  // Asynchronous: the server answering it runs in this process.
  const { stdout } = await promisify(execFile)('python3', [script, `${server.url}/v1`], { timeout: 120_000 });
  const out = JSON.parse(stdout);
  t.log(`openai (Python) ${out.version}`);
  t.true(out.pieces.length >= 6, `${out.pieces.length} chunks`);
  t.is(out.pieces.join(''), out.whole);
  t.is(out.usage, 32);
  t.is(out.n.length, 3);
  t.is(new Set(out.n).size, 3);
  t.true(out.logprobs.every((lp: number[]) => lp.length > 0 && lp.every((x) => x <= 0)));
  t.is(out.completion_logprobs.length, 12);
  t.is(out.completion_pieces.join(''), out.completion);
  t.deepEqual(out.error, { status: 400, param: 'n', type: 'invalid_request_error' });
});
