// SIGTERM (Kubernetes, Slurm, `docker stop`) during `rdpo-native train` is treated as Ctrl-C: the
// step finishes, a checkpoint is written atomically, the exit code is 143. A second signal exits at
// once, and the last good checkpoint is still whole (a resume starts from it).
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { checkpointDefect, latestCheckpoint } from '../lib/train/checkpoint.js';
import { cliPath, repoRoot, runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('sigterm');
test.after.always(() => box.cleanup());
test.before(() => ensureDist());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startTraining(runDir: string, extra: string[] = []) {
  const child = spawn(
    process.execPath,
    [
      cliPath,
      'train',
      '--model',
      policyDir,
      '--data',
      box.dataNoRationale,
      '--loss',
      'dpo',
      '--batch-size',
      '2',
      '--epochs',
      '1000',
      '--lr',
      '1e-3',
      '--warmup-steps',
      '0',
      '--max-length',
      '512',
      '--out',
      runDir,
      ...extra,
    ],
    { cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let running = true;
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  void exited.then(() => (running = false));
  return { child, exited, stderr: () => stderr, running: () => running };
}

async function until(cond: () => boolean, running: () => boolean): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (running() && Date.now() < deadline && !cond()) await sleep(50);
}

test.serial('SIGTERM finishes the step, writes a whole checkpoint and exits 143', async (t) => {
  const runDir = path.join(box.dir, 'term');
  const metrics = path.join(runDir, 'metrics.jsonl');
  const run = startTraining(runDir);
  await until(() => existsSync(metrics) && readFileSync(metrics, 'utf8').includes('\n'), run.running);
  t.true(run.running(), `the run ended before a metrics row appeared:\n${run.stderr()}`);
  run.child.kill('SIGTERM');
  t.is(await run.exited, 143, run.stderr());
  t.regex(run.stderr(), /SIGTERM: finishing the current step and writing a checkpoint/);
  const ckpt = latestCheckpoint(runDir);
  t.truthy(ckpt, run.stderr());
  t.is(checkpointDefect(ckpt!), undefined);
  t.deepEqual(
    readdirSync(path.join(runDir, 'checkpoints')).filter((n) => n.endsWith('.tmp')),
    [],
    'no half-written checkpoint',
  );
});

test.serial('a second signal exits at once; the last good checkpoint stays whole and --resume starts from it', async (t) => {
  const runDir = path.join(box.dir, 'term-twice');
  const run = startTraining(runDir, ['--save-every', '1']);
  const checkpoints = path.join(runDir, 'checkpoints');
  await until(() => existsSync(checkpoints) && readdirSync(checkpoints).some((n) => /^step-\d+$/.test(n)), run.running);
  t.true(run.running(), run.stderr());
  const good = latestCheckpoint(runDir)!;
  run.child.kill('SIGTERM');
  await sleep(20);
  run.child.kill('SIGTERM');
  t.is(await run.exited, 143, run.stderr());
  const last = latestCheckpoint(runDir);
  t.truthy(last);
  t.is(checkpointDefect(last!), undefined);
  t.true(last! >= good);
  // The resume removes what the killed write left and continues from the last whole checkpoint.
  const state = JSON.parse(readFileSync(path.join(last!, 'trainer_state.json'), 'utf8')) as { step: number };
  const resumed = await runCli(['train', '--resume', runDir, '--max-steps', String(state.step + 1)], { timeoutMs: 90_000 });
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, new RegExp(`resuming .* from ${path.basename(last!)}`));
  t.deepEqual(
    readdirSync(checkpoints).filter((n) => n.startsWith('.')),
    [],
  );
});
