// Slow native work runs off the event loop: timers keep firing while it runs.
import test from 'ava';
import { loadNative } from '../lib/native/load.js';

const native = loadNative();

test('timers keep firing during a multi-second native call', async (t) => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const started = Date.now();
  // Grow the work until the call takes at least ~1.5 s on this machine.
  let result = await native.measureMatmulPeak(512, 4, 'float32', 'cpu');
  const perMatmul = result.seconds / 4;
  const iterations = Math.max(4, Math.ceil(2 / Math.max(perMatmul, 1e-4)));
  const tickStart = ticks;
  const callStart = Date.now();
  result = await native.measureMatmulPeak(512, iterations, 'float32', 'cpu');
  const elapsed = Date.now() - callStart;
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
