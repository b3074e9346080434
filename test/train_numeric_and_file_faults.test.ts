// Training and scoring when numbers or files go bad: a diverging run stops with a non-zero
// exit and never writes non-finite weights; skip-step goes on; resume before the first checkpoint
// does not duplicate metrics and clears stale temp dirs; a damaged newest checkpoint falls back to
// the one before; `logprobs` never writes null for a NaN score and reports oversized rows.
import test from 'ava';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NonFiniteTrainingError, train } from '../lib/train/trainer.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { readF32Safetensors } from './helpers/safetensors_read.js';
import { policyDir, readMetricsRows, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('faults');
test.before(() => ensureDist());
test.after.always(() => box.cleanup());

const base = { model: policyDir, data: box.dataNoRationale, loss: 'sft' as const, batchSize: 2, maxLength: 256, maxPromptLength: 128, warmupSteps: 0 };
const quiet = { log: () => {} };
const rows = readMetricsRows;
const allFinite = (file: string) => [...readF32Safetensors(file).values()].every((a) => a.every(Number.isFinite));

test.serial('train --lr 1e9 stops at the first non-finite loss: exit 1, a clear message, no NaN weights written', async (t) => {
  const out = path.join(box.dir, 'diverge');
  const r = await runCli(
    [
      'train',
      '--model',
      policyDir,
      '--data',
      box.dataNoRationale,
      '--loss',
      'sft',
      '--lr',
      '1e9',
      '--warmup-steps',
      '0',
      '--batch-size',
      '2',
      '--max-steps',
      '4',
      '--save-every',
      '1',
      '--max-length',
      '256',
      '--out',
      out,
    ],
    { timeoutMs: 300_000 },
  );
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /step \d: the (loss|gradient norm) is (NaN|-?Infinity); training stopped.*--on-nonfinite skip-step/s);
  t.false(existsSync(path.join(out, 'final')), 'no final model from a diverged run');
  const checkpoints = existsSync(path.join(out, 'checkpoints')) ? readdirSync(path.join(out, 'checkpoints')).filter((n) => n.startsWith('step-')) : [];
  for (const c of checkpoints) t.true(allFinite(path.join(out, 'checkpoints', c, 'model.safetensors')), `${c} holds only finite weights`);
  for (const row of rows(out)) t.true(Number.isFinite(row.loss), `metrics row ${row.step} has a finite loss`);
  t.log(`stopped after ${checkpoints.length} checkpoint(s): ${r.stderr.split('\n').find((l) => /training stopped/.test(l))}`);
});

test.serial('onNonfinite skip-step: the run finishes, the bad steps are marked skipped, the weights stay finite', async (t) => {
  const out = path.join(box.dir, 'skip');
  const result = await train({ ...base, lr: 1e9, maxSteps: 4, onNonfinite: 'skip-step', out }, quiet);
  t.is(result.steps, 4);
  const skipped = rows(out).filter((r) => r.skipped === true);
  t.true(skipped.length >= 1, 'at least one step was skipped');
  const text = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8');
  t.false(text.includes('null'), 'non-finite values are written as strings, not null');
  t.true(allFinite(path.join(result.finalModelDir!, 'model.safetensors')));
  // The API throws a typed error in stop mode.
  await t.throwsAsync(train({ ...base, lr: 1e9, maxSteps: 4, out: path.join(box.dir, 'stop-api') }, quiet), { instanceOf: NonFiniteTrainingError });
});

test.serial('resume before the first checkpoint: metrics start over (no duplicate rows), stale temp dirs are removed', async (t) => {
  const out = path.join(box.dir, 'early');
  await train({ ...base, lr: 1e-3, maxSteps: 2, out }, quiet);
  // As if killed before any checkpoint: the rows are there, final/ is not, a half-written checkpoint is.
  rmSync(path.join(out, 'final'), { recursive: true });
  const stale = path.join(out, 'checkpoints', '.step-000001.4242.tmp');
  mkdirSync(stale, { recursive: true });
  writeFileSync(path.join(stale, 'model.safetensors'), 'partial');
  const logs: string[] = [];
  const resumed = await train({ resume: out } as Parameters<typeof train>[0], { log: (m) => logs.push(m) });
  t.is(resumed.steps, 2);
  t.deepEqual(
    rows(out).map((r) => r.step),
    [1, 2],
  );
  t.false(existsSync(stale));
  t.true(logs.some((l) => /no checkpoint yet/.test(l)));
});

test.serial('a damaged newest checkpoint is skipped with a warning; the resume starts from the one before', async (t) => {
  const out = path.join(box.dir, 'damaged');
  const controller = new AbortController();
  await train(
    { ...base, lr: 1e-3, maxSteps: 4, saveEvery: 1, out },
    { ...quiet, signal: controller.signal, onStep: (r) => r.step === 2 && controller.abort() },
  );
  const newest = path.join(out, 'checkpoints', 'step-000002', 'model.safetensors');
  truncateSync(newest, 1000);
  const logs: string[] = [];
  const resumed = await train({ resume: out } as Parameters<typeof train>[0], { log: (m) => logs.push(m) });
  t.is(resumed.steps, 4);
  t.true(
    logs.some((l) => /step-000002 is damaged \(model\.safetensors: .*\); falling back/.test(l)),
    logs.join('\n'),
  );
  t.true(
    logs.some((l) => /from step-000001 \(step 1\/4\)/.test(l)),
    logs.join('\n'),
  );
  t.deepEqual(
    rows(out).map((r) => r.step),
    [1, 2, 3, 4],
  );
});

function poisonedModel(): string {
  const dir = path.join(box.dir, 'nan-model');
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(policyDir)) copyFileSync(path.join(policyDir, f), path.join(dir, f));
  const file = path.join(dir, 'model.safetensors');
  const buf = readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const [name, entry] = Object.entries(header).find(([n, e]) => n !== '__metadata__' && /norm\.weight$/.test(n) && e.dtype === 'F32')!;
  for (let at = 8 + len + entry.data_offsets[0]; at < 8 + len + entry.data_offsets[1]; at += 4) buf.writeFloatLE(Number.NaN, at);
  writeFileSync(file, buf);
  return name;
}

test.serial('logprobs with a model that yields NaN: each row says so, nothing is null, exit 1', async (t) => {
  poisonedModel();
  const out = path.join(box.dir, 'nan.jsonl');
  const r = await runCli(['logprobs', '--model', path.join(box.dir, 'nan-model'), '--data', box.dataNoRationale, '--out', out, '--prompt-format', 'plain']);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /8 of 8 rows were not scored \(8 with a non-finite log-prob\)/);
  const text = readFileSync(out, 'utf8');
  t.false(text.includes('null'));
  const written = text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(written.length, 8);
  for (const row of written) t.regex(String(row.error), /non-finite log-prob/);
});

test.serial('logprobs: an oversized row gets its own error row and is never tokenized; the others are scored', async (t) => {
  const data = path.join(box.dir, 'big.jsonl');
  const lines = readFileSync(box.dataNoRationale, 'utf8').trim().split('\n');
  const big = { prompt: 'x'.repeat(5000), chosen: 'a', rejected: 'b' };
  writeFileSync(data, [lines[0], JSON.stringify(big), lines[1]].join('\n') + '\n');
  const out = path.join(box.dir, 'big.out.jsonl');
  const r = await runCli([
    'logprobs',
    '--model',
    policyDir,
    '--data',
    data,
    '--out',
    out,
    '--prompt-format',
    'plain',
    '--max-row-bytes',
    '4096',
    '--batch-size',
    '2',
  ]);
  t.is(r.code, 1, r.stderr);
  const written = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(written.length, 3);
  t.is(typeof written[0]!.chosen_logp, 'number');
  t.regex(String(written[1]!.error), /row is \d+ bytes, over --max-row-bytes 4096; not scored/);
  t.is(typeof written[2]!.chosen_logp, 'number');
});
