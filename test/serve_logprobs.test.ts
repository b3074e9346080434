// `logprobs` from `serve` (tiny-chat fixture): chat's logprobs/top_logprobs and completions'
// logprobs are the model's own log-softmax of its logits at each generated position (recomputed
// here from CausalLM.logits), agree with the training scoring path the `logprobs` command uses
// (sequenceLogprobs), and are the same streamed as whole.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { ChatEngine } from '../lib/serve/chat_engine.js';
import { TextGenerator } from '../lib/inference/text_generator.js';
import { packSequences } from '../lib/model/packing.js';
import { startServer, type RunningServer } from '../lib/serve/server.js';
import { readSse } from './helpers/sse.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));

let model: TextGenerator;
let engine: ChatEngine;
let server: RunningServer;

test.before(async () => {
  model = await TextGenerator.load(MODEL);
  engine = new ChatEngine(model, { maxBatch: 8 });
  server = await startServer({ engine, modelId: 'tiny-chat', port: 0 });
});
test.after.always(() => server?.close(1000));

const post = (path: string, body: object) =>
  fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** log-softmax over each generated position, computed here in float64 from the model's logits. */
async function reference(prompt: number[], completion: number[]): Promise<Array<{ logprob: number; sorted: number[]; row: Float64Array }>> {
  const [rows] = await model.model.lm.logits([[...prompt, ...completion]]);
  return completion.map((id, i) => {
    const logits = rows![prompt.length - 1 + i]!;
    let max = -Infinity;
    for (const x of logits) max = Math.max(max, x);
    let z = 0;
    for (const x of logits) z += Math.exp(x - max);
    const row = Float64Array.from(logits, (x) => x - max - Math.log(z));
    const sorted = [...row.keys()].sort((a, b) => row[b]! - row[a]! || a - b);
    return { logprob: row[id]!, sorted, row };
  });
}

const messages = [{ role: 'user' as const, content: 'Why is the sky blue?' }];

test.serial("chat logprobs + top_logprobs: each token's log-softmax and its 5 likeliest alternatives", async (t) => {
  const prompt = model.encodeChat(messages);
  const { ids } = await engine.run(prompt, { maxNewTokens: 32, temperature: 0 });
  const res = await post('/v1/chat/completions', { messages, max_tokens: 32, temperature: 0, logprobs: true, top_logprobs: 5 });
  t.is(res.status, 200);
  const body = await res.json();
  const content = body.choices[0].logprobs.content as Array<{
    token: string;
    logprob: number;
    bytes: number[];
    top_logprobs: Array<{ token: string; logprob: number }>;
  }>;
  t.is(content.length, ids.length);
  t.is(content.length, body.usage.completion_tokens);
  const ref = await reference(prompt, ids);
  content.forEach((entry, i) => {
    t.true(Math.abs(entry.logprob - ref[i]!.logprob) < 1e-6, `position ${i}: ${entry.logprob} vs ${ref[i]!.logprob}`);
    t.is(entry.token, model.tokenizer.decode([ids[i]!]));
    t.is(entry.top_logprobs.length, 5);
    entry.top_logprobs.forEach((alt, k) => {
      const id = ref[i]!.sorted[k]!;
      t.is(alt.token, model.tokenizer.decode([id]), `position ${i}, alternative ${k}`);
      t.true(Math.abs(alt.logprob - ref[i]!.row[id]!) < 1e-6);
    });
    // Greedy: the generated token is the likeliest one, as the full forward pass scores it.
    t.is(entry.top_logprobs[0]!.logprob, entry.logprob);
  });
  // The bytes of the tokens make up the answer's UTF-8 (a token's text alone may be U+FFFD).
  const fromBytes = new TextDecoder().decode(Uint8Array.from(content.flatMap((e) => e.bytes)));
  t.is(fromBytes, body.choices[0].message.content);
  t.true(
    content.some((e) => e.token.includes('\uFFFD')),
    'the fixture answer has tokens that are parts of characters',
  );
  t.is(model.tokenizer.decode(ids, { skipSpecialTokens: true }), body.choices[0].message.content);

  // The training scoring path (sequenceLogprobs, as the `logprobs` command sums them) agrees.
  const { sum } = await model.model.lm.sequenceLogprobs(packSequences([{ prompt, completions: [ids] }]));
  const total = content.reduce((s, e) => s + e.logprob, 0);
  t.true(Math.abs(total - sum[0]!) < 1e-3 * Math.max(1, Math.abs(total)), `summed ${total} vs sequenceLogprobs ${sum[0]}`);
});

test.serial('logprobs: true without top_logprobs gives no alternatives; no logprobs gives null', async (t) => {
  const plain = await (await post('/v1/chat/completions', { messages, max_tokens: 4, temperature: 0 })).json();
  t.is(plain.choices[0].logprobs, null);
  const lp = await (await post('/v1/chat/completions', { messages, max_tokens: 4, temperature: 0, logprobs: true })).json();
  t.true(lp.choices[0].logprobs.content.every((e: { top_logprobs: unknown[] }) => e.top_logprobs.length === 0));
});

test.serial('completions logprobs: tokens, token_logprobs, top_logprobs and text_offset in the legacy shape', async (t) => {
  const prompt = model.encodeText('Once upon a time');
  const { ids, text } = await engine.run(prompt, { maxNewTokens: 10, temperature: 0 });
  const body = await (await post('/v1/completions', { prompt: 'Once upon a time', max_tokens: 10, temperature: 0, logprobs: 3 })).json();
  t.is(body.choices[0].text, text);
  const lp = body.choices[0].logprobs;
  const ref = await reference(prompt, ids);
  t.deepEqual(
    lp.tokens,
    ids.map((id) => model.tokenizer.decode([id])),
  );
  lp.token_logprobs.forEach((x: number, i: number) => t.true(Math.abs(x - ref[i]!.logprob) < 1e-6));
  lp.top_logprobs.forEach((top: Record<string, number>, i: number) => {
    const best = ref[i]!.sorted.slice(0, 3).map((id) => model.tokenizer.decode([id]));
    t.deepEqual(Object.keys(top), [...new Set(best)]);
  });
  t.is(lp.text_offset[0], 0);
  lp.text_offset.slice(1).forEach((at: number, i: number) => t.is(at, lp.text_offset[i] + lp.tokens[i].length));
});

test.serial("streamed log-probs are the whole answer's, chunk by chunk", async (t) => {
  const whole = await (await post('/v1/chat/completions', { messages, max_tokens: 14, temperature: 0, logprobs: true, top_logprobs: 2 })).json();
  const events = await readSse(await post('/v1/chat/completions', { messages, max_tokens: 14, temperature: 0, logprobs: true, top_logprobs: 2, stream: true }));
  const streamed = events.filter((e) => !e.done).flatMap((e) => e.data.choices[0]?.logprobs?.content ?? []);
  t.is(streamed.length, whole.choices[0].logprobs.content.length);
  streamed.forEach((entry: { token: string; logprob: number }, i: number) => {
    const w = whole.choices[0].logprobs.content[i];
    t.is(entry.token, w.token);
    t.true(Math.abs(entry.logprob - w.logprob) < 1e-5, `position ${i}`);
  });
  const completion = await (await post('/v1/completions', { prompt: 'Once upon a time', max_tokens: 10, temperature: 0, logprobs: 1 })).json();
  const chunks = (
    await readSse(await post('/v1/completions', { prompt: 'Once upon a time', max_tokens: 10, temperature: 0, logprobs: 1, stream: true }))
  ).filter((e) => !e.done);
  const offsets = chunks.flatMap((e) => e.data.choices[0]?.logprobs?.text_offset ?? []);
  t.deepEqual(offsets, completion.choices[0].logprobs.text_offset);
});
