// Ctrl-C during `rdpo-native train`: the CLI finishes the current step, writes a checkpoint that
// transformers-format loaders accept, exits with 130, and `--resume` completes the run.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CausalLM } from '../lib/model/causal_lm.js';
import { cliPath, repoRoot, runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir, refDir, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('sigint');
test.after.always(() => box.cleanup());
test.before(() => ensureDist());

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

test('SIGINT writes a loadable checkpoint and exits 130; --resume finishes with final/', async (t) => {
  const runDir = path.join(box.dir, 'run');
  const metrics = path.join(runDir, 'metrics.jsonl');
  const child = spawn(
    process.execPath,
    [
      cliPath,
      'train',
      '--model',
      policyDir,
      '--ref-model',
      refDir,
      '--data',
      box.data,
      '--loss',
      'rdpo',
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
    ],
    { cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let running = true;
  void exited.then(() => (running = false));

  const deadline = Date.now() + 90_000;
  while (running && Date.now() < deadline && !(existsSync(metrics) && readFileSync(metrics, 'utf8').includes('\n'))) await sleep(100);
  t.true(running, `the run ended before a metrics row appeared:\n${stderr}`);
  child.kill('SIGINT');
  const code = await exited;
  t.is(code, 130, stderr);
  t.regex(stderr, /checkpoint written to .*step-\d{6}; continue with --resume/);

  const checkpoints = readdirSync(path.join(runDir, 'checkpoints')).filter((n) => /^step-\d+$/.test(n));
  t.is(checkpoints.length, 1);
  const ckpt = path.join(runDir, 'checkpoints', checkpoints[0]!);
  for (const f of ['model.safetensors', 'optimizer.safetensors', 'trainer_state.json', 'config.json', 'tokenizer.json']) {
    t.true(existsSync(path.join(ckpt, f)), `${f} in the checkpoint`);
  }
  const state = JSON.parse(readFileSync(path.join(ckpt, 'trainer_state.json'), 'utf8')) as { step: number; totalSteps: number };
  t.true(state.step >= 1 && state.step < state.totalSteps);
  const model = await CausalLM.load(ckpt, { dtype: 'float32' });
  t.is(model.config.vocabSize, 1500);
  model.dispose();

  // Finish the run two steps later (max-steps is one of the settings a resume may change).
  const resumed = await runCli(['train', '--resume', runDir, '--max-steps', String(state.step + 2)], { timeoutMs: 90_000 });
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, new RegExp(`resuming .* from ${checkpoints[0]} \\(step ${state.step}/`));
  t.true(existsSync(path.join(runDir, 'final', 'model.safetensors')));
  const steps = readFileSync(metrics, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { step: number }).step);
  t.deepEqual(
    steps,
    Array.from({ length: state.step + 2 }, (_, i) => i + 1),
  );
});
