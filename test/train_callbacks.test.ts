// The programmatic train()'s callbacks: onStep / onEvaluate / onCheckpoint, each able to stop the run;
// earlyStopping() on an evaluation metric with patience. A stopped run ends with a usable final/
// that says which step it holds.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { earlyStopping, stopTraining } from '../lib/train/callbacks.js';
import type { MetricsRow } from '../lib/train/metrics.js';
import { train } from '../lib/train/trainer.js';
import { CausalLM } from '../lib/model/causal_lm.js';
import { policyDir, readMetricsRows, trainSandbox } from './helpers/train_fixture.js';
import { repoRoot } from './helpers/cli.js';

const run = promisify(execFile);

const box = trainSandbox('callbacks');
test.after.always(() => box.cleanup());

const base = { model: policyDir, data: box.dataNoRationale, loss: 'dpo' as const, batchSize: 2, lr: 1e-3, warmupSteps: 0, maxLength: 512 };
const evalRow = (step: number, values: Record<string, number>): MetricsRow => ({ step, epoch: 0, tokens: 1, loss: 0, ...values, eval: true });
const context = { runDir: '/x', step: 0, totalSteps: 10 };

test('earlyStopping: patience counts evaluations without improvement; min for a loss, max otherwise', (t) => {
  const onLoss = earlyStopping({ metric: 'loss', patience: 2 });
  t.falsy(onLoss.onEvaluate!(evalRow(1, { loss: 1.0 }), context));
  t.falsy(onLoss.onEvaluate!(evalRow(2, { loss: 0.9 }), context));
  t.falsy(onLoss.onEvaluate!(evalRow(3, { loss: 0.95 }), context));
  const stop = onLoss.onEvaluate!(evalRow(4, { loss: 0.9 }), context);
  t.like(stop, { stop: true });
  t.regex((stop as { reason: string }).reason, /eval loss did not improve on 0\.9 \(step 2\) for 2 evaluations/);
  t.deepEqual(onLoss.best, { value: 0.9, step: 2 });

  const onAccuracy = earlyStopping({ metric: 'rewards/accuracies', patience: 1, minDelta: 0.1 });
  t.falsy(onAccuracy.onEvaluate!(evalRow(1, { 'rewards/accuracies': 0.5 }), context));
  t.falsy(onAccuracy.onEvaluate!(evalRow(2, { 'rewards/accuracies': 0.7 }), context), 'higher is better for an accuracy');
  t.like(onAccuracy.onEvaluate!(evalRow(3, { 'rewards/accuracies': 0.75 }), context), { stop: true }, 'within minDelta is no improvement');

  t.throws(() => earlyStopping({ metric: 'loss', patience: 0 }), { message: /patience must be a whole number >= 1/ });
  t.throws(() => earlyStopping({ metric: 'nope', patience: 1 }).onEvaluate!(evalRow(1, {}), context), {
    message: /no metric 'nope'; it has step, epoch, tokens, loss/,
  });
});

test('early stopping through train(): stops at the evaluation that runs out of patience, with final/ from that step', async (t) => {
  const stopper = earlyStopping({ metric: 'loss', patience: 1, minDelta: 1e9 }); // nothing counts as better than the first
  const evaluated: number[] = [];
  const result = await train(
    { ...base, maxSteps: 6, evalSize: 2, evalEvery: 1, out: path.join(box.dir, 'early') },
    { log: () => {}, callbacks: [stopper], onEvaluate: (row) => void evaluated.push(row.step) },
  );
  t.deepEqual(evaluated, [1, 2]);
  t.false(result.interrupted);
  t.is(result.steps, 2);
  t.is(result.stopped?.step, 2);
  t.regex(result.stopped!.reason, /^early stopping: eval loss did not improve/);
  t.deepEqual(
    readMetricsRows(result.runDir)
      .filter((r) => !r.eval)
      .map((r) => r.step),
    [1, 2],
  );
  const final = result.finalModelDir!;
  t.is(final, path.join(result.runDir, 'final'));
  const state = JSON.parse(readFileSync(path.join(final, 'trainer_state.json'), 'utf8')) as { step: number; global_step: number };
  t.is(state.step, 2);
  t.is(state.global_step, 2);
  t.regex(readFileSync(path.join(final, 'README.md'), 'utf8'), /These weights are from step 2 of 6\*\*: training stopped early \(early stopping: /);
  const model = await CausalLM.load(final, { dtype: 'float32' });
  t.true(model.config.vocabSize > 0);
  model.dispose();
});

test('onStep can stop; onCheckpoint sees each checkpoint; onStep gets training rows only', async (t) => {
  const steps: Array<[number, boolean]> = [];
  const checkpoints: number[] = [];
  const result = await train(
    { ...base, maxSteps: 5, saveEvery: 1, evalSize: 2, evalEvery: 1, out: path.join(box.dir, 'onstep') },
    {
      log: () => {},
      onStep: (row, ctx) => {
        steps.push([row.step, row.eval === true]);
        t.is(ctx.step, row.step);
        t.is(ctx.totalSteps, 5);
        return row.step === 2 ? stopTraining('enough for this test') : undefined;
      },
      onCheckpoint: ({ dir, step }) => {
        t.true(existsSync(path.join(dir, 'model.safetensors')));
        checkpoints.push(step);
      },
    },
  );
  t.deepEqual(steps, [
    [1, false],
    [2, false],
  ]);
  t.deepEqual(checkpoints, [1, 2]);
  t.deepEqual(result.stopped, { step: 2, reason: 'enough for this test' });
  t.true(existsSync(path.join(result.finalModelDir!, 'model.safetensors')));
});

test('the README example runs (with the fixture model and data in place of its paths)', async (t) => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const block = /<!-- README example: callbacks[^>]*-->\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) return t.fail('README.md has no callbacks example');
  const out = path.join(box.dir, 'readme-run');
  const code = block
    .replace(`from 'rdpo-native'`, `from ${JSON.stringify(path.join(repoRoot, 'lib', 'index.ts'))}`)
    .replace(/^const model = .*$/m, `const model = ${JSON.stringify(policyDir)};`)
    .replace(/^const data = .*$/m, `const data = ${JSON.stringify(box.dataNoRationale)};`)
    .replace(
      /^const settings = .*$/m,
      `const settings = { maxSteps: 6, evalSize: 2, evalEvery: 1, lr: 1e-3, batchSize: 2, maxLength: 512, warmupSteps: 0, out: ${JSON.stringify(out)} };`,
    );
  t.not(code, block);
  const file = path.join(box.dir, 'readme-example.mts');
  writeFileSync(file, code);
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', file], { cwd: repoRoot, env: process.env });
  t.regex(stdout, /step 1: eval reward accuracy /, stderr);
  t.true(existsSync(path.join(out, 'final', 'README.md')));
  t.true(readdirSync(path.join(out, 'tensorboard')).some((f) => f.startsWith('events.out.tfevents.')));
});
