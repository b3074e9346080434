// Each term's share of the update (grad_norm/preference, grad_norm/rationale in metrics.jsonl; docs/presets.md):
// logged on the first step and on each step an evaluation follows, and equal to the step's own gradient
// norm where the other term is zero.
import test from 'ava';
import path from 'node:path';
import { train } from '../lib/train/trainer.js';
import { policyDir, readMetricsRows, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('term-norms');
test.after.always(() => box.cleanup());

const base = {
  model: policyDir,
  data: box.data,
  batchSize: 4,
  maxSteps: 4,
  lr: 1e-4,
  warmupSteps: 0,
  maxGradNorm: 0,
  refCache: false,
  dtype: 'float32' as const,
  seed: 3,
};
const quiet = { log: () => {} };
const norms = (r: Record<string, unknown>) => [r['grad_norm/preference'], r['grad_norm/rationale']];

test('RDPO: both norms on the first step and before each evaluation, none elsewhere; DPO logs none', async (t) => {
  const out = path.join(box.dir, 'rdpo');
  await train({ ...base, loss: 'rdpo', out, evalEvery: 2, evalSize: 2 }, quiet);
  const rows = readMetricsRows(out).filter((r) => !r.eval);
  t.deepEqual(
    rows.map((r) => r.step),
    [1, 2, 3, 4],
  );
  const logged = rows.map((r) => norms(r).every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0));
  t.deepEqual(logged, [true, true, false, true], 'steps 1 (first), 2 and 4 (an evaluation follows)');
  t.true(rows.slice(2, 3).every((r) => norms(r).every((v) => v === undefined)));
  const dpo = path.join(box.dir, 'dpo');
  await train({ ...base, loss: 'dpo', out: dpo, data: box.dataNoRationale }, quiet);
  t.true(readMetricsRows(dpo).every((r) => norms(r).every((v) => v === undefined)));
});

test("rationale-only: the rationale term is the whole gradient (its norm is the step's), the preference part is zero", async (t) => {
  const out = path.join(box.dir, 'rationale-only');
  await train({ ...base, loss: 'rationale-only', out, maxSteps: 1 }, quiet);
  const [row] = readMetricsRows(out);
  const rel = Math.abs((row!['grad_norm/rationale'] as number) - row!.grad_norm!) / row!.grad_norm!;
  t.true(rel < 1e-5, `rationale ${row!['grad_norm/rationale']} vs step ${row!.grad_norm} (rel ${rel})`);
  t.true((row!['grad_norm/preference'] as number) < 1e-6 * row!.grad_norm!);
});

test('RDPO with γ 0: the preference part is the whole gradient, the rationale term none of it', async (t) => {
  const out = path.join(box.dir, 'gamma0');
  await train({ ...base, loss: 'rdpo', gamma: 0, out, maxSteps: 1 }, quiet);
  const [row] = readMetricsRows(out);
  const rel = Math.abs((row!['grad_norm/preference'] as number) - row!.grad_norm!) / row!.grad_norm!;
  t.true(rel < 1e-5, `preference ${row!['grad_norm/preference']} vs step ${row!.grad_norm} (rel ${rel})`);
  t.is(row!['grad_norm/rationale'], 0);
});
