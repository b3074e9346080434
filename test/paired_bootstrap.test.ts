// The crossed bootstrap behind the demo's and the PandaLM study's intervals (lib/eval/paired_bootstrap.ts).
import test from 'ava';
import { crossedBootstrap, excludesZero, pairedDifference } from '../lib/eval/paired_bootstrap.js';
import { SeededRandom } from '../lib/util/random.js';

test('three replicates that each differ by one answer in 200 get an interval of real width, not zero', (t) => {
  // In replicate r, a is right and b wrong on question r; b is right and a wrong on questions 150 and
  // 151 + r: per replicate the accuracies differ by exactly −1/200, so a t-interval over replicates has zero width.
  const a = [0, 1, 2].map(() => Array.from({ length: 200 }, (_, q) => (q < 100 ? 1 : 0)));
  const b = a.map((row, r) => row.map((v, q) => (q === 150 || q === 151 + r ? 1 : q === r ? 0 : v)));
  const diff = pairedDifference(a, b);
  const perReplicate = diff.map((row) => row.reduce((s, v) => s + v, 0) / row.length);
  t.deepEqual(perReplicate, [-0.005, -0.005, -0.005]);
  const i = crossedBootstrap(diff, { seed: 1 });
  t.is(i.mean, -0.005);
  t.false(i.degenerate);
  t.true(i.ci95[1] - i.ci95[0] > 0.005, `width ${i.ci95[1] - i.ci95[0]}`);
  t.false(excludesZero(i));
});

test('identical arms give a degenerate zero interval that is flagged, and it does not count as a difference', (t) => {
  const a = [
    [1, 0, 1, 1],
    [0, 0, 1, 1],
  ];
  const i = crossedBootstrap(pairedDifference(a, a));
  t.deepEqual(i.ci95, [0, 0]);
  t.true(i.degenerate);
  t.false(excludesZero(i));
});

test('a large consistent difference is shown; the interval covers the mean and is reproducible by seed', (t) => {
  const rng = new SeededRandom(3);
  const diff = Array.from({ length: 6 }, () => Array.from({ length: 300 }, () => (rng.next() < 0.3 ? 1 : rng.next() < 0.1 ? -1 : 0)));
  const i = crossedBootstrap(diff, { seed: 7 });
  t.true(i.ci95[0] <= i.mean && i.mean <= i.ci95[1]);
  t.true(excludesZero(i));
  t.deepEqual(crossedBootstrap(diff, { seed: 7 }), i);
  t.is(i.replicates, 6);
  t.is(i.units, 300);
});

test('replicate variance widens the interval: a shift shared by all units in one replicate', (t) => {
  const base = Array.from({ length: 4 }, () => Array.from({ length: 100 }, (_, q) => (q % 2 === 0 ? 0.5 : -0.5)));
  const shifted = base.map((row, r) => row.map((v) => v + (r === 0 ? 2 : 0)));
  const w = (x: number[][]) => {
    const i = crossedBootstrap(x, { seed: 2 });
    return i.ci95[1] - i.ci95[0];
  };
  t.true(w(shifted) > 3 * w(base));
});

test('a design that is not crossed is refused with the replicate named', (t) => {
  t.throws(() => crossedBootstrap([[1, 2], [1]]), { instanceOf: RangeError, message: /replicate 1 has 1 units/ });
  t.throws(() => crossedBootstrap([]), { instanceOf: RangeError });
  t.throws(() => crossedBootstrap([[NaN]]), { instanceOf: RangeError, message: /non-finite/ });
});
