// `--preset paper` (lib/train/presets.ts) and `train --print-config`: the authors' set-up, explicit
// settings winning over it, γ by rationale form, and the printed object equal to a run's config.json.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, resolveTrainConfig } from '../lib/train/config.js';
import { truncationModeFor } from '../lib/data/truncation.js';
import { PAPER_PRESET } from '../lib/train/presets.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir, trainSandbox } from './helpers/train_fixture.js';

const sandbox = trainSandbox('preset');
test.after.always(() => sandbox.cleanup());

const base = { model: 'm', data: 'd' };

test("preset paper: the authors' set-up", (t) => {
  const c = resolveTrainConfig({ ...base, preset: 'paper' });
  t.is(c.batchSize * c.gradAccum, 32);
  t.like(c, {
    lr: 5e-7,
    warmupSteps: 150,
    schedule: 'constant',
    maxGradNorm: 10,
    maxLength: 2048,
    maxPromptLength: 1024,
    truncationMode: 'auto',
    dtype: 'auto',
    beta: 0.1,
    loss: 'rdpo',
    rationaleForm: 'logsigmoid',
    gamma: 0.1,
    rationaleNorm: 'sum',
    epochs: 1,
    weightDecay: 0.01,
    warmupForm: 'halos',
    dropLastBatch: true,
    promptFormat: 'auto',
  });
});

test('preset paper: explicit keys win; a batch size sets grad-accum to keep 32', (t) => {
  const c = resolveTrainConfig({ ...base, preset: 'paper', lr: 1e-6, batchSize: 8 });
  t.is(c.lr, 1e-6);
  t.is(c.gradAccum, 4);
  t.is(resolveTrainConfig({ ...base, preset: 'paper', gradAccum: 16 }).batchSize, 2);
  const err = t.throws(() => resolveTrainConfig({ ...base, preset: 'paper', batchSize: 3 }), { instanceOf: ConfigError });
  t.regex(err!.message, /'batchSize'.*must divide 32; got 3/);
  t.throws(() => resolveTrainConfig({ ...base, preset: 'fast' }), { instanceOf: ConfigError, message: /'preset'.*use one of paper/ });
});

test("defaults are the released code: RDPO −log σ(0.1·Σ log π(r)), RORPO rorpo-simple's linear form at γ 1.0", (t) => {
  t.like(resolveTrainConfig({ ...base }), { loss: 'rdpo', rationaleForm: 'logsigmoid', gamma: 0.1, rationaleNorm: 'sum', beta: 0.1 });
  t.like(resolveTrainConfig({ ...base, loss: 'rdpo' }), { rationaleForm: 'logsigmoid', gamma: 0.1, rationaleNorm: 'sum' });
  t.like(resolveTrainConfig({ ...base, loss: 'rorpo' }), { rationaleForm: 'paper', gamma: 1.0, rationaleNorm: 'mean', beta: 0.1 });
  t.like(resolveTrainConfig({ ...base, loss: 'rationale-only' }), { rationaleForm: 'logsigmoid', gamma: 0.1 });
  // Without the preset, warm-up and batching stay transformers'/TRL's.
  const plain = resolveTrainConfig({ ...base });
  t.is(plain.warmupForm, undefined);
  t.is(plain.dropLastBatch, undefined);
});

test('γ follows an explicitly given rationale form: paper 2 (RDPO, as printed), logsigmoid 0.1; an explicit γ wins', (t) => {
  t.like(resolveTrainConfig({ ...base, loss: 'rdpo', rationaleForm: 'paper' }), { rationaleForm: 'paper', gamma: 2 });
  t.is(resolveTrainConfig({ ...base, loss: 'rdpo', rationaleForm: 'logsigmoid' }).gamma, 0.1);
  t.is(resolveTrainConfig({ ...base, loss: 'rorpo', rationaleForm: 'logsigmoid' }).gamma, 1.0);
  t.is(resolveTrainConfig({ ...base, loss: 'rdpo', rationaleForm: 'paper', gamma: 0.5 }).gamma, 0.5);
  t.is(resolveTrainConfig({ ...base, loss: 'rdpo', gamma: 0.001 }).gamma, 0.001);
});

test('train --loss rdpo --print-config resolves to the released form at γ 0.1', async (t) => {
  ensureDist();
  const printed = await runCli(['train', '--model', policyDir, '--data', sandbox.data, '--loss', 'rdpo', '--print-config']);
  t.is(printed.code, 0, printed.stderr);
  t.like(JSON.parse(printed.stdout) as Record<string, unknown>, { loss: 'rdpo', rationaleForm: 'logsigmoid', gamma: 0.1, rationaleNorm: 'sum' });
  const paper = await runCli(['train', '--model', policyDir, '--data', sandbox.data, '--loss', 'rdpo', '--rationale-form', 'paper', '--print-config']);
  t.like(JSON.parse(paper.stdout) as Record<string, unknown>, { rationaleForm: 'paper', gamma: 2 });
});

test('truncation auto: keep the start for Orca, UltraFeedback and rationale sets, the end for dialogues', (t) => {
  for (const f of ['orca', 'ultrafeedback', 'rationale-set']) t.is(truncationModeFor('auto', f), 'keep_start', f);
  for (const f of ['hh-rlhf', 'sharegpt', 'generic', undefined]) t.is(truncationModeFor('auto', f), 'keep_end', String(f));
  t.is(truncationModeFor('keep_end', 'orca'), 'keep_end');
});

test('--preset paper --print-config prints the object a run records as config.json `config`', async (t) => {
  ensureDist();
  const out = path.join(sandbox.dir, 'paper-run');
  const flags = [
    '--preset',
    'paper',
    '--model',
    policyDir,
    '--data',
    sandbox.data,
    '--loss',
    'rdpo',
    '--batch-size',
    '8',
    '--max-steps',
    '1',
    '--warmup-steps',
    '0',
    '--no-ref-cache',
    '--out',
    out,
  ];
  const printed = await runCli(['train', ...flags, '--print-config']);
  t.is(printed.code, 0, printed.stderr);
  const config = JSON.parse(printed.stdout) as Record<string, unknown>;
  t.like(config, { preset: 'paper', batchSize: 8, gradAccum: 4, lr: 5e-7, maxLength: 2048, promptFormat: 'chat', out });
  const trained = await runCli(['train', ...flags], { timeoutMs: 300_000 });
  t.is(trained.code, 0, trained.stderr);
  const recorded = (JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as { config: Record<string, unknown> }).config;
  t.deepEqual(Object.keys(recorded).sort(), Object.keys(config).sort());
  t.deepEqual(recorded, config);
});

test('docs/presets.md lists every preset key with its source', (t) => {
  const doc = readFileSync(path.join(path.dirname(policyDir), '..', '..', '..', 'docs', 'presets.md'), 'utf8');
  for (const key of [...Object.keys(PAPER_PRESET), 'batchSize', 'gradAccum', 'gamma']) t.regex(doc, new RegExp(`\`${key}\``), key);
});
