// Slow native work runs off the event loop: timers keep firing while it runs.
import test from 'ava';
import { loadNative } from '../lib/native/load.js';

const native = loadNative();

test('timers keep firing during a multi-second native call', async (t) => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const started = Date.now();
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
  t.true(Date.now() - started > 0);
});

test('several concurrent async calls all settle', async (t) => {
  const results = await Promise.all([1, 2, 3, 4, 5, 6].map(() => native.measureMatmulPeak(64, 3, 'float32', 'cpu')));
  t.is(results.length, 6);
  for (const r of results) t.true(r.flopsPerSec > 0);
});
