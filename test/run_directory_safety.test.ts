// `train --out DIR` never destroys what is not a run of ours: the model's own directory, a
// non-empty directory of the user's and `/` are refused; a finished run needs --overwrite; a
// directory another run is training in is locked (pid + host) and a second run fails at once.
import test from 'ava';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { train } from '../lib/train/trainer.js';
import { RUN_LOCK } from '../lib/train/run_directory.js';
import { DirLockedError, lockDir } from '../lib/util/dir_lock.js';
import { OUTPUT_MARKER } from '../lib/util/output_marker.js';
import { UsageError } from '../lib/errors.js';
import { repoRoot, runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir, readMetricsRows, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('run-dir');
test.after.always(() => box.cleanup());
const quiet = { log: () => {} };
const base = { data: box.dataNoRationale, loss: 'dpo' as const, batchSize: 2, maxSteps: 1, maxLength: 512 };

test('--out the model’s own directory is refused and its config.json is untouched', async (t) => {
  const model = path.join(box.dir, 'model-copy');
  cpSync(policyDir, model, { recursive: true });
  const before = readFileSync(path.join(model, 'config.json'), 'utf8');
  const err = await t.throwsAsync(train({ ...base, model, out: model }, quiet), { instanceOf: UsageError });
  t.regex(err!.message, /--out .*model-copy is --model .*model-copy; a run would write over it/);
  t.is(readFileSync(path.join(model, 'config.json'), 'utf8'), before);
  t.false(existsSync(path.join(model, 'final')));
});

test('a non-empty directory that is not a run is refused, whatever it holds; so is /', async (t) => {
  const mine = path.join(box.dir, 'my-project');
  mkdirSync(path.join(mine, 'final'), { recursive: true });
  writeFileSync(path.join(mine, 'config.json'), '{"mine": true}\n');
  writeFileSync(path.join(mine, 'final', 'notes.txt'), 'keep me\n');
  const err = await t.throwsAsync(train({ ...base, model: policyDir, out: mine }, quiet), { instanceOf: UsageError });
  t.regex(err!.message, /--out .*my-project is not empty and is not a run directory this tool wrote \(no \.rdpo-native\.json in it\)/);
  t.is(readFileSync(path.join(mine, 'config.json'), 'utf8'), '{"mine": true}\n');
  t.is(readFileSync(path.join(mine, 'final', 'notes.txt'), 'utf8'), 'keep me\n');
  t.false(existsSync(path.join(mine, OUTPUT_MARKER)));
  await t.throwsAsync(train({ ...base, model: policyDir, out: '/' }, quiet), {
    instanceOf: UsageError,
    message: /--out \/ (is not empty and is not a run directory|holds --model)/,
  });
});

test('a run directory gets a marker; training again there needs --overwrite, which starts it afresh', async (t) => {
  const out = path.join(box.dir, 'run-twice');
  await train({ ...base, model: policyDir, out }, quiet);
  t.true(existsSync(path.join(out, OUTPUT_MARKER)));
  t.false(existsSync(path.join(out, RUN_LOCK)), 'the lock is released when the run ends');
  writeFileSync(path.join(out, 'my-notes.md'), 'mine\n');
  const err = await t.throwsAsync(train({ ...base, model: policyDir, out }, quiet), { instanceOf: UsageError });
  t.regex(err!.message, /already holds a run \(metrics\.jsonl\)\. Continue it with --resume .*, start it again with --overwrite/);
  const again = await train({ ...base, model: policyDir, out, maxSteps: 2, overwrite: true }, quiet);
  t.is(again.steps, 2);
  t.deepEqual(
    readMetricsRows(out).map((r) => r.step),
    [1, 2],
    'metrics start again at step 1',
  );
  t.is(readFileSync(path.join(out, 'my-notes.md'), 'utf8'), 'mine\n', '--overwrite removes only the run’s own files');
});

test('a run directory in use is locked: a second run fails at once naming the holder; a stale lock is taken over', async (t) => {
  const out = path.join(box.dir, 'locked');
  mkdirSync(out);
  const held = lockDir(out, RUN_LOCK, `run directory ${out}`);
  try {
    const err = await t.throwsAsync(train({ ...base, model: policyDir, out }, quiet), { instanceOf: DirLockedError });
    t.regex(err!.message, new RegExp(`run directory .*locked is in use by process ${process.pid} on ${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    t.false(existsSync(path.join(out, 'metrics.jsonl')), 'nothing was written');
  } finally {
    held.release();
  }
  // A lock left by a process that no longer runs (killed with SIGKILL) does not block the next run.
  writeFileSync(path.join(out, RUN_LOCK), JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname(), startedAt: 'earlier' }) + '\n');
  const r = await train({ ...base, model: policyDir, out }, quiet);
  t.is(r.steps, 1);
  t.false(existsSync(path.join(out, RUN_LOCK)));
});

test('CLI: two runs on one --out: the second exits 2 at once with the first one’s pid', async (t) => {
  ensureDist();
  const out = path.join(box.dir, 'cli-locked');
  mkdirSync(out);
  // The first "run": a process holding the lock as train does.
  const holder = spawn(
    process.execPath,
    [
      '--import=tsx',
      '-e',
      `import('${path.join(repoRoot, 'lib/util/dir_lock.ts')}').then((m) => { m.lockDir(${JSON.stringify(out)}, ${JSON.stringify(RUN_LOCK)}, 'x'); console.log('locked'); setTimeout(() => {}, 60000); })`,
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
      holder.on('exit', () => reject(new Error('the lock holder exited')));
    });
    const r = await runCli([
      'train',
      '--model',
      policyDir,
      '--data',
      box.dataNoRationale,
      '--loss',
      'dpo',
      '--batch-size',
      '2',
      '--max-steps',
      '1',
      '--out',
      out,
    ]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`in use by process ${holder.pid} on `));
    t.false(existsSync(path.join(out, 'metrics.jsonl')));
  } finally {
    holder.kill('SIGKILL');
  }
});

test('--resume on a directory that is not a run says so (no TypeError)', async (t) => {
  const notRun = path.join(box.dir, 'not-a-run');
  mkdirSync(notRun);
  writeFileSync(path.join(notRun, 'config.json'), '{"model_type": "llama"}\n');
  const err = await t.throwsAsync(train({ resume: notRun } as Parameters<typeof train>[0], quiet));
  t.not(err!.name, 'TypeError');
  t.regex(err!.message, /--resume .*not-a-run: not a run directory \(.*config\.json has no "config" object/);
});
