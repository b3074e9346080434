// The training-run object alone: set up from the same settings as a train() call and stepped by
// hand, it writes the rows train() writes (the loss, every metric, the evaluation), step for step;
// the bench's step function is the same object over the bench's pairs.
import test from 'ava';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import type { MetricsRow } from '../lib/train/metrics.js';
import { train } from '../lib/train/trainer.js';
import { claimRunDirectory, resolveRun } from '../lib/train/run_directory.js';
import { openTrainingRun } from '../lib/train/training_run_setup.js';
import { trainerStepper } from '../lib/bench/trainer_stepper.js';
import { policyDir, readMetricsRows, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('training-run');
test.after.always(() => box.cleanup());

// Everything but the wall-clock figures, which differ from one run to the next.
const untimed = ({ tokens_per_sec: _t, mfu: _m, ...row }: MetricsRow) => row;

const settings = {
  model: policyDir,
  data: box.data,
  loss: 'rdpo' as const,
  batchSize: 2,
  gradAccum: 2,
  lr: 1e-3,
  warmupSteps: 1,
  maxSteps: 2,
  evalSize: 2,
  maxLength: 512,
  seed: 3,
};

test('two steps of a TrainingRun write the metrics rows train() writes for the same settings', async (t) => {
  const trained = await train({ ...settings, out: path.join(box.dir, 'by-train') }, { log: () => {} });
  const expected = readMetricsRows(trained.runDir);
  t.deepEqual(
    expected.map((r) => [r.step, r.eval === true]),
    [
      [1, false],
      [2, false],
      [2, true],
    ],
  );

  const resolved = resolveRun({ ...settings, out: path.join(box.dir, 'by-hand') }, () => {});
  const lock = claimRunDirectory(resolved, { log: () => {} });
  try {
    const run = await openTrainingRun(resolved, { ranks: undefined, log: () => {} });
    try {
      t.is(run.totalSteps, 2);
      const first = await run.step();
      const second = await run.step();
      t.is(run.state.step, 2);
      t.is(run.state.microBatches, 4, 'gradAccum 2: two micro-batches a step');
      t.true(Number.isFinite(first.row.loss) && first.row.loss > 0);
      t.deepEqual(untimed(first.row), untimed(expected[0]!));
      t.deepEqual(untimed(second.row), untimed(expected[1]!));
      t.true(first.packedTokens > 0 && first.lastBatch !== undefined);
      const evaluation = await run.evaluate();
      t.deepEqual(evaluation, expected[2]);
      run.closeMetrics();
      t.deepEqual(readMetricsRows(resolved.runDir).map(untimed), expected.map(untimed), 'metrics.jsonl holds the same rows');
      const config = JSON.parse(readFileSync(path.join(resolved.runDir, 'config.json'), 'utf8')) as { totalSteps: number; config: { promptFormat: string } };
      t.is(config.totalSteps, 2);
      t.is(config.config.promptFormat, 'chat');
    } finally {
      run.close();
    }
  } finally {
    lock.release();
  }
});

test("the bench's step function steps a TrainingRun over the first pairs in file order", async (t) => {
  const stepper = await trainerStepper({
    model: policyDir,
    data: box.data,
    loss: 'rdpo',
    batchSize: 2,
    maxLength: 512,
    maxPromptLength: 256,
    dtype: 'float32',
    device: 'cpu',
    warmup: 1,
    steps: 1,
    phases: true,
    lr: 1e-3,
    beta: 0.1,
    seed: 1,
  });
  try {
    const first = await stepper.step(0);
    t.true(first.pairTokens > 0 && first.rationaleTokens > 0);
    t.is(first.referenceTokens, first.pairTokens);
    t.deepEqual(Object.keys(first.phases ?? {}).sort(), ['forward_loss_backward', 'forward_loss_nograd', 'optimizer', 'pack', 'reference']);
    t.true(first.excludedSeconds! >= 0);
    await t.throwsAsync(() => stepper.step(0), { message: /bench step 0 asked for after step 1/ });
    const second = await stepper.step(1);
    t.true(second.computedTokens!.policy > 0 && second.computedTokens!.reference > 0);
  } finally {
    stepper.close?.();
  }
});
