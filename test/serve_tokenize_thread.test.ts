// Issue 13, defect 5: a large prompt is tokenized off the event loop, so /health (and every other
// request) answers promptly while it is. The prompt is within --max-prompt-bytes here, so it is
// really tokenized (and then refused as longer than the model's context).
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { OFF_THREAD_PROMPT_BYTES, TextGenerator } from '../lib/inference/text_generator.js';
import { ChatEngine } from '../lib/serve/chat_engine.js';
import { startServer, type RunningServer } from '../lib/serve/server.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));
// Varied words, so the tokenizer has real merging to do (about 4 MB).
const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'sky', 'blue', 'because', 'scattering', 'light', 'Rayleigh', '42', 'über', 'naïve'];
const BIG = Array.from({ length: 600_000 }, (_, i) => words[(i * 7919) % words.length]).join(' ');

let generator: TextGenerator;
let server: RunningServer;

test.before(async () => {
  generator = await TextGenerator.load(MODEL);
  server = await startServer({ engine: new ChatEngine(generator, { maxBatch: 4, maxPromptBytes: 16 * 2 ** 20 }), modelId: 'tiny-chat', port: 0 });
});
test.after.always(() => server?.close(1000));

test.serial('a long prompt tokenized on the worker thread gives the ids the main thread gives', async (t) => {
  const messages = [{ role: 'user' as const, content: BIG.slice(0, 200_000) }];
  t.true(Buffer.byteLength(messages[0]!.content) > OFF_THREAD_PROMPT_BYTES);
  t.deepEqual(await generator.encodeChatOffThread(messages), generator.encodeChat(messages));
});

test.serial('/health answers within a second while a 4 MB prompt is being tokenized', async (t) => {
  // The server runs in this process: a tokenizer on the event loop would stall this loop too, so
  // what is measured is the longest wait between /health answers, not only each call's latency.
  const started = performance.now();
  const big = fetch(server.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: BIG }], max_tokens: 4, temperature: 0 }),
  }).then(async (res) => ({ status: res.status, body: await res.json(), at: performance.now() - started }));
  let done = false;
  void big.finally(() => (done = true));
  const answeredAt: number[] = [0];
  while (!done) {
    const res = await fetch(server.url + '/health');
    t.is(res.status, 200);
    await res.json();
    answeredAt.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 50));
  }
  const answer = await big;
  const gaps = answeredAt.slice(1).map((at, i) => at - answeredAt[i]!);
  const longest = Math.max(...gaps, answer.at - answeredAt.at(-1)!);
  t.log(`the big request took ${answer.at.toFixed(0)} ms; ${gaps.length} /health answers meanwhile, the longest wait between them ${longest.toFixed(0)} ms`);
  // It was tokenized (the count is in the refusal), and it took long enough for the check to mean something.
  t.is(answer.status, 400);
  t.regex(answer.body.error.message, /the prompt is \d{6,} tokens .* context of 4096 tokens/);
  t.true(answer.at > 1000, `the big request took ${answer.at.toFixed(0)} ms; make the prompt larger for this test to measure anything`);
  t.true(longest < 1000, `the longest wait between /health answers: ${longest.toFixed(0)} ms`);
});
