// The statistics of the PandaLM sweep (lib/eval/contrast_table.ts): cells and paired contrasts from a
// seeds × held-out-pairs matrix, matched by seed, against another arm or a fixed per-pair baseline.
import test from 'ava';
import { cellSummaries, contrastSummaries, type ScoreMatrix } from '../lib/eval/contrast_table.js';
import { crossedBootstrap, pairedDifference } from '../lib/eval/paired_bootstrap.js';
import { SeededRandom } from '../lib/util/random.js';

const rng = new SeededRandom(11);
const scores = (p: number, units = 120) => Array.from({ length: units }, () => (rng.next() < p ? 1 : 0));

test('a cell is the crossed bootstrap of its matrix, with the per-seed means listed in seed order', (t) => {
  const values = [scores(0.6), scores(0.6), scores(0.6)];
  const [cell] = cellSummaries([{ arm: 'dpo', size: 16, seeds: [2, 0, 1], values }], { seed: 5, draws: 500 });
  t.deepEqual(cell!.seeds, [2, 0, 1]);
  t.deepEqual(
    cell!.perSeed,
    values.map((r) => r.reduce((a, b) => a + b, 0) / r.length),
  );
  t.deepEqual(cell!.ci95, crossedBootstrap(values, { seed: 5, draws: 500 }).ci95);
  t.true(cell!.ci95[0] < cell!.mean && cell!.mean < cell!.ci95[1]);
});

test('arm − arm pairs rows by seed value, not by position, and uses only the shared seeds', (t) => {
  const a0 = scores(0.7),
    a1 = scores(0.7),
    b0 = scores(0.4),
    b1 = scores(0.4),
    b2 = scores(0.4);
  const cells: ScoreMatrix[] = [
    { arm: 'rdpo', size: 32, seeds: [1, 0], values: [a1, a0] },
    { arm: 'dpo', size: 32, seeds: [0, 1, 2], values: [b0, b1, b2] },
  ];
  const [c] = contrastSummaries(cells, [{ name: 'rdpo-dpo', a: 'rdpo', b: 'dpo' }], { seed: 3, draws: 500 });
  t.deepEqual(c!.seeds, [1, 0]);
  const expected = crossedBootstrap(pairedDifference([a1, a0], [b1, b0]), { seed: 3, draws: 500 });
  t.is(c!.mean, expected.mean);
  t.deepEqual(c!.ci95, expected.ci95);
  t.true(c!.excludesZero, `a 0.3 gap over 2 × 120 pairs: ${JSON.stringify(c!.ci95)}`);
});

test('arm − baseline: the start model at 0.5 on every pair gives the accuracy above chance', (t) => {
  const values = [scores(0.55), scores(0.55), scores(0.55)];
  const cells: ScoreMatrix[] = [{ arm: 'dpo', size: 64, seeds: [0, 1, 2], values }];
  const [c] = contrastSummaries(cells, [{ name: 'dpo-start', a: 'dpo', b: { baseline: values[0]!.map(() => 0.5) } }]);
  const [cell] = cellSummaries(cells);
  t.true(Math.abs(c!.mean - (cell!.mean - 0.5)) < 1e-12);
  t.deepEqual(c!.seeds, [0, 1, 2]);
});

test('identical arms: the contrast is flagged degenerate and not shown; missing sides are skipped', (t) => {
  const v = [scores(0.5, 40), scores(0.5, 40), scores(0.5, 40)];
  const cells: ScoreMatrix[] = [
    { arm: 'rdpo', size: 16, seeds: [0, 1, 2], values: v },
    { arm: 'rdpo-null', size: 16, seeds: [0, 1, 2], values: v.map((r) => [...r]) },
    { arm: 'rdpo', size: 32, seeds: [0], values: [v[0]!] },
    { arm: 'dpo', size: 32, seeds: [1], values: [v[1]!] },
  ];
  const out = contrastSummaries(cells, [
    { name: 'rdpo-rdpo_null', a: 'rdpo', b: 'rdpo-null' },
    { name: 'rdpo-dpo', a: 'rdpo', b: 'dpo' },
  ]);
  t.is(out.length, 1, 'size 32 has no rdpo-null, and rdpo and dpo share no seed there');
  t.deepEqual(out[0]!.ci95, [0, 0]);
  t.true(out[0]!.degenerate);
  t.false(out[0]!.excludesZero);
});

test('a malformed matrix is refused with the cell named', (t) => {
  t.throws(() => cellSummaries([{ arm: 'dpo', size: 8, seeds: [0, 1], values: [[1, 0]] }]), { message: /dpo @ 8: 2 seeds but 1 rows/ });
  t.throws(() => cellSummaries([{ arm: 'dpo', size: 8, seeds: [0, 0], values: [[1], [0]] }]), { message: /seed is listed twice/ });
});
