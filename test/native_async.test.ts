// Slow native work runs off the event loop: timers keep firing while it runs.
import test from 'ava';
import path from 'node:path';
import { CausalLM } from '../lib/index.js';
import { loadNative } from '../lib/native/load.js';

const native = loadNative();

test('timers keep firing during a multi-second native call', async (t) => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  // Grow the work until one call takes at least a second on this machine (the first calls also pay
  // for warm-up, so one estimate from them can undershoot on a quiet machine).
  let iterations = 8;
  let elapsed = 0;
  let tickStart = ticks;
  for (let attempt = 0; attempt < 6; attempt++) {
    tickStart = ticks;
    const callStart = Date.now();
    await native.measureMatmulPeak(512, iterations, 'float32', 'cpu');
    elapsed = Date.now() - callStart;
    if (elapsed >= 1000) break;
    iterations = Math.ceil(iterations * Math.min(64, 1500 / Math.max(elapsed, 1)));
  }
  clearInterval(timer);
  t.true(elapsed >= 1000, `the call should be long enough to observe (${elapsed} ms)`);
  const fired = ticks - tickStart;
  // A blocked event loop would fire at most once or twice; a free one fires about elapsed/20 times.
  t.true(fired >= elapsed / 20 / 3, `timer fired ${fired} times during a ${elapsed} ms native call`);
});

test('several concurrent async calls all settle', async (t) => {
  const results = await Promise.all([1, 2, 3, 4, 5, 6].map(() => native.measureMatmulPeak(64, 3, 'float32', 'cpu')));
  t.is(results.length, 6);
  for (const r of results) t.true(r.flopsPerSec > 0);
});

// createTrainer takes the model's lock; a long call on the same model (here: generate) holds it.
// It used to wait for that lock on the main thread, freezing every timer and socket meanwhile.
test.serial('createTrainer waits for a busy model off the event loop', async (t) => {
  const model = await CausalLM.load(path.join(import.meta.dirname, 'fixtures', 'models', 'tiny-chat'));
  t.teardown(() => model.dispose());
  const handle = model.nativeHandle;
  const vocab = model.config.vocabSize;
  const prompts = Int32Array.from({ length: 8 * 4 }, (_, i) => 5 + (i % 7)),
    lengths = new Int32Array(8).fill(4);
  // No EOS stops it early: the only "EOS" is the last id, and greedy decoding is timed to last a second or more.
  const generate = (n: number) => handle.generate(prompts, lengths, { maxNewTokens: n, temperature: 0, eosTokenIds: [vocab - 1] });
  let n = 16;
  let elapsed = 0;
  for (let attempt = 0; attempt < 6; attempt++) {
    const start = Date.now();
    await generate(n);
    elapsed = Date.now() - start;
    if (elapsed >= 1000 || n >= 4000) break;
    n = Math.min(4000, Math.ceil(n * Math.min(16, 1500 / Math.max(elapsed, 1))));
  }
  t.true(elapsed >= 1000, `generate should hold the model long enough to observe (${elapsed} ms for ${n} tokens)`);

  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  t.teardown(() => clearInterval(timer));
  const busy = generate(n);
  await new Promise((r) => setTimeout(r, 100)); // the generate call is running and holds the lock
  const callStart = performance.now();
  const pending = native.createTrainer(handle, { loss: 'sft' } as never);
  const callMs = performance.now() - callStart;
  const ticksBefore = ticks;
  const waitStart = performance.now();
  const trainer = await pending;
  const waitMs = performance.now() - waitStart;
  const fired = ticks - ticksBefore;
  await busy;
  t.true(pending instanceof Promise, 'createTrainer returns a promise');
  t.true(callMs < elapsed / 4, `createTrainer returned after ${callMs.toFixed(1)} ms while generate (${elapsed} ms) held the model`);
  // A free event loop runs the 20 ms timer about waitMs / 20 times (a quarter of that allows for load).
  t.true(fired >= Math.floor(waitMs / 20 / 4), `timer fired ${fired} times in the ${waitMs.toFixed(0)} ms createTrainer waited for the model`);
  t.true(trainer.numParameters > 0);
});
