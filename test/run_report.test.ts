// `rdpo-native report RUN_DIR`: report.md with SVG curves of metrics.jsonl and a table of the config
// and final metrics; charts only for what the run logged; grad_norm/<term> columns get a chart.
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeRunReport } from '../lib/report/run_report.js';
import { train } from '../lib/train/trainer.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir, refDir, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('run-report');
test.after.always(() => box.cleanup());

test('an RDPO run with evaluations: curves of loss, margins, accuracies, log-probs, rationale NLL, lr, grad norm, tokens/s', async (t) => {
  const result = await train(
    {
      model: policyDir,
      refModel: refDir,
      data: box.data,
      loss: 'rdpo',
      batchSize: 2,
      maxSteps: 6,
      lr: 5e-3,
      warmupSteps: 2,
      schedule: 'linear',
      maxLength: 512,
      evalSize: 2,
      evalEvery: 2,
      out: path.join(box.dir, 'rdpo'),
    },
    { log: () => {} },
  );
  const report = await writeRunReport(result.runDir);
  // RDPO logs each term's share of the update (grad_norm/preference, grad_norm/rationale): a chart of its own.
  const names = report.plots.map((p) => path.basename(p)).sort();
  t.deepEqual(names, [
    'grad_norm.svg',
    'grad_norm_terms.svg',
    'learning_rate.svg',
    'logps.svg',
    'loss.svg',
    'rationale.svg',
    'reward_accuracies.svg',
    'reward_margins.svg',
    'rewards.svg',
    'tokens_per_sec.svg',
  ]);
  const md = readFileSync(report.file, 'utf8');
  for (const n of names) t.true(md.includes(`](plots/${n})`), n);
  t.regex(md, /6 of 6 steps logged, 3 evaluations on 2 held-out pairs; 6 training pairs/);
  t.regex(md, /\| loss \| `rdpo` \|/);
  t.regex(md, /\| rewards\/margins \| -?\d/);
  const loss = readFileSync(path.join(result.runDir, 'plots', 'loss.svg'), 'utf8');
  t.true(loss.startsWith('<svg'));
  t.regex(loss, />eval</);
  t.regex(loss, />train</);
  t.regex(loss, /optimiser step/);
});

test('per-term gradient norms (grad_norm/…) get their own chart; an SFT run draws no reward charts', async (t) => {
  const dir = path.join(box.dir, 'synthetic');
  mkdirSync(dir, { recursive: true });
  const rows = [1, 2, 3].flatMap((step) => [
    {
      step,
      epoch: step / 3,
      loss: 2 - step / 10,
      tokens: 10,
      learning_rate: 1e-5,
      grad_norm: 1,
      nll_loss: 2,
      'grad_norm/preference': 0.8 / step,
      'grad_norm/rationale': 0.3,
    },
    ...(step === 3 ? [{ step, epoch: 1, loss: 1.9, tokens: 5, nll_loss: 1.9, 'grad_norm/preference': 0.5, 'grad_norm/rationale': 0.2, eval: true }] : []),
  ]);
  writeFileSync(path.join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ config: { loss: 'sft', model: 'm' }, totalSteps: 3 }));
  const report = await writeRunReport(dir);
  t.deepEqual(readdirSync(path.join(dir, 'plots')).sort(), ['grad_norm.svg', 'grad_norm_terms.svg', 'learning_rate.svg', 'loss.svg', 'nll_loss.svg']);
  const terms = readFileSync(path.join(dir, 'plots', 'grad_norm_terms.svg'), 'utf8');
  for (const s of ['train preference', 'eval rationale']) t.true(terms.includes(s), s);
  t.is(report.plots.length, 5);
});

test('CLI: report RUN_DIR writes report.md; a directory without metrics.jsonl is named in the error', async (t) => {
  ensureDist();
  const dir = path.join(box.dir, 'cli');
  mkdirSync(dir, { recursive: true });
  const bad = await runCli(['report', dir]);
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /no metrics\.jsonl; is it a run directory/);
  writeFileSync(path.join(dir, 'metrics.jsonl'), JSON.stringify({ step: 1, epoch: 1, loss: 0.7, tokens: 3 }) + '\n');
  const ok = await runCli(['report', dir]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /report: .*report\.md \(1 plots\)/);
  t.true(existsSync(path.join(dir, 'plots', 'loss.svg')));
});
