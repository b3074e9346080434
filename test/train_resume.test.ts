// Exact resume: a run of 6 steps, and the same run aborted after step 3 (which writes a
// checkpoint) then continued with `train({resume})`, log the same rows 4–6 and end with the same
// weights. Warm-up and linear decay make the schedule position matter; 8 pairs in batches of 2
// cross an epoch boundary (a reshuffle) inside the resumed part; RDPO uses the reference cache,
// rationale rows and every AdamW moment.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { train } from '../lib/train/trainer.js';
import { maxRelativeDifference, readF32Safetensors } from './helpers/safetensors_read.js';
import { policyDir, readMetricsRows, refDir, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('resume');
test.after.always(() => box.cleanup());

const config = {
  model: policyDir,
  refModel: refDir,
  data: box.data,
  loss: 'rdpo' as const,
  batchSize: 2,
  maxSteps: 6,
  lr: 5e-3,
  schedule: 'linear' as const,
  warmupSteps: 2,
  weightDecay: 0.01,
  maxGradNorm: 1,
  maxLength: 512,
  maxPromptLength: 256,
};
const COMPARED = [
  'loss',
  'grad_norm',
  'learning_rate',
  'rewards/chosen',
  'rewards/rejected',
  'rewards/accuracies',
  'rewards/margins',
  'logps/chosen',
  'logps/rejected',
  'logps/rationale',
  'epoch',
  'total_tokens',
];

test('a run aborted after step 3 and resumed logs the rows and ends with the weights of an uninterrupted run', async (t) => {
  const quiet = { log: () => {} };
  const full = await train({ ...config, out: path.join(box.dir, 'full') }, quiet);
  t.is(full.steps, 6);

  const controller = new AbortController();
  const first = await train(
    { ...config, out: path.join(box.dir, 'split') },
    {
      ...quiet,
      signal: controller.signal,
      onStep: (row) => {
        if (row.step === 3) controller.abort();
      },
    },
  );
  t.true(first.interrupted);
  t.is(first.steps, 3);
  // A stop leaves a usable final/ that says which step it holds; the resume replaces it.
  t.deepEqual(first.stopped, { step: 3, reason: 'interrupted; continue with --resume' });
  t.is((JSON.parse(readFileSync(path.join(first.finalModelDir!, 'trainer_state.json'), 'utf8')) as { step: number }).step, 3);
  const resumed = await train({ resume: first.runDir } as Parameters<typeof train>[0], quiet);
  t.false(resumed.interrupted);
  t.is(resumed.steps, 6);

  const a = readMetricsRows(full.runDir);
  const b = readMetricsRows(resumed.runDir);
  t.deepEqual(
    b.map((r) => r.step),
    [1, 2, 3, 4, 5, 6],
  );
  // The schedule really moves: warm-up, peak, decay.
  t.deepEqual(
    a.map((r) => r.learning_rate),
    [0, 2.5e-3, 5e-3, 3.75e-3, 2.5e-3, 1.25e-3],
  );
  let worst = 0;
  for (let i = 3; i < 6; i++) {
    for (const k of COMPARED) {
      const x = b[i]![k] as number;
      const y = a[i]![k] as number;
      t.is(typeof x, 'number', `row ${i + 1} ${k}`);
      const rel = Math.abs(x - y) / Math.max(1e-12, Math.abs(y));
      worst = Math.max(worst, y === 0 ? Math.abs(x) : rel);
      t.true(y === 0 ? Math.abs(x) < 1e-9 : rel <= 1e-6, `row ${i + 1} ${k}: resumed ${x}, uninterrupted ${y}`);
    }
  }
  const weights = maxRelativeDifference(
    readF32Safetensors(path.join(resumed.finalModelDir!, 'model.safetensors')),
    readF32Safetensors(path.join(full.finalModelDir!, 'model.safetensors')),
  );
  t.true(weights <= 1e-6, `final weights differ: max relative difference ${weights}`);
  const moved = maxRelativeDifference(
    readF32Safetensors(path.join(full.finalModelDir!, 'model.safetensors')),
    readF32Safetensors(path.join(policyDir, 'model.safetensors')),
  );
  t.true(moved > 1e-3, 'training changed the weights');
  t.log(`rows 4–6 max relative difference ${worst}; final weights ${weights}`);
});
