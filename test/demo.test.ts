// The built-in demo (docs/demo.md): its task's data streams, the summary arithmetic, and the whole
// pipeline on a shortened schedule (`npx rdpo-native train` runs the full one).
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runDemo } from '../lib/demo/run_demo.js';
import {
  DEMO_TASK,
  FILLERS,
  extractAnswer,
  isCorrect,
  judgeArithmetic,
  makeCueReversedPairs,
  makePreferencePairs,
  makeSftDemonstrations,
} from '../lib/demo/arithmetic_task.js';
import { meanInterval } from '../lib/demo/demo_summary.js';

const hasFiller = (s: string) => FILLERS.some((f) => s.endsWith(f));

test('the exact checker judges answers by their sum', (t) => {
  const p = { a: 12, b: 7, answer: 19 };
  t.is(extractAnswer('12 + 7 = 19. I double-checked the addition.'), 19);
  t.true(isCorrect(p, '12 + 7 = 19.'));
  t.false(isCorrect(p, '12 + 7 = 18.'));
  t.false(isCorrect(p, 'nineteen'));
  t.is(judgeArithmetic(p, '12 + 7 = 19.', '12 + 7 = 20.'), 'A');
  t.is(judgeArithmetic(p, '12 + 7 = 20.', '12 + 7 = 19. Long and right.'), 'B');
  t.is(judgeArithmetic(p, 'x', 'y'), 'tie');
});

test('the task: a spurious length cue in the pairs, none in the SFT data, reversed in the held-out pairs', (t) => {
  const pairs = makePreferencePairs(2000, 11);
  const rate = (xs: string[]) => xs.filter(hasFiller).length / xs.length;
  t.true(pairs.every((p) => isCorrect(p.meta as never, p.chosen) && !isCorrect(p.meta as never, p.rejected)), 'chosen correct, rejected wrong');
  t.true(Math.abs(rate(pairs.map((p) => p.chosen)) - DEMO_TASK.chosenFiller) < 0.03);
  t.true(Math.abs(rate(pairs.map((p) => p.rejected)) - DEMO_TASK.rejectedFiller) < 0.03);
  t.true(pairs.every((p) => p.rationale!.includes(`= ${(p.meta as { answer: number }).answer}.`) && p.rationale!.includes('does not matter')));
  const sft = makeSftDemonstrations(4000, 12);
  const correct = sft.filter((p) => isCorrect(p.meta as never, p.chosen));
  t.true(Math.abs(correct.length / sft.length - DEMO_TASK.sftCorrect) < 0.03);
  // Filler is independent of correctness in the demonstrations.
  t.true(Math.abs(rate(correct.map((p) => p.chosen)) - rate(sft.filter((p) => !correct.includes(p)).map((p) => p.chosen))) < 0.05);
  const reversed = makeCueReversedPairs(500, 13);
  t.true(reversed.every((p) => !hasFiller(p.chosen) && hasFiller(p.rejected)));
  t.deepEqual(makePreferencePairs(5, 11), pairs.slice(0, 5), 'seeded');
});

test('mean and 95% t-interval over seeds', (t) => {
  const m = meanInterval([0.5, 0.6, 0.7]);
  t.is(Math.round(m.mean * 1e9) / 1e9, 0.6);
  // sd 0.1, t(2) = 4.303: half-width 0.1 × 4.303 / √3
  t.true(Math.abs(m.ci95![1] - 0.6 - (0.1 * 4.303) / Math.sqrt(3)) < 1e-9);
  t.is(meanInterval([0.4]).ci95, null);
});

test('the demo pipeline: SFT, DPO and RDPO per seed and size, summary.json and a report with plots', async (t) => {
  const out = mkdtempSync(path.join(tmpdir(), 'rdpo-demo-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const logs: string[] = [];
  const schedule = { seeds: [1, 2], sizes: [16, 32], sftSteps: 8, preferenceEpochs: 1, batchSize: 8, evalQuestions: 12, maxNewTokens: 24 };
  const result = await runDemo({ outDir: out, schedule, log: (m) => logs.push(m) });
  const summary = JSON.parse(readFileSync(result.summaryPath, 'utf8')) as Record<string, any>;
  for (const name of ['sft', 'dpo', 'rdpo']) {
    const m = summary.models[name];
    t.true(m.accuracy >= 0 && m.accuracy <= 1, `${name} accuracy is a fraction`);
    t.is(m.accuracyPerSeed.length, 2);
    t.is(m.ci95.length, 2);
    t.true(m.ci95[0] <= m.accuracy && m.accuracy <= m.ci95[1]);
    t.true(Number.isFinite(m.length));
  }
  t.is(summary.models.sft.cueReversedAccuracy, null);
  t.true(summary.models.rdpo.cueReversedAccuracy.mean >= 0);
  t.deepEqual(
    summary.efficiency.map((e: { loss: string; pairs: number }) => `${e.loss}@${e.pairs}`),
    ['dpo@16', 'dpo@32', 'rdpo@16', 'rdpo@32'],
  );
  for (const seed of [1, 2]) {
    t.true(existsSync(path.join(out, `seed-${seed}`, 'sft', 'run', 'final', 'model.safetensors')));
    const rdpoRows = readFileSync(path.join(out, `seed-${seed}`, 'rdpo-32', 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    t.true(rdpoRows.some((r) => typeof r['nll/rationale'] === 'number'), 'RDPO trained on rationales');
    const dpoConfig = JSON.parse(readFileSync(path.join(out, `seed-${seed}`, 'dpo-32', 'run', 'config.json'), 'utf8'));
    const rdpoConfig = JSON.parse(readFileSync(path.join(out, `seed-${seed}`, 'rdpo-32', 'run', 'config.json'), 'utf8'));
    t.is(dpoConfig.data.trainPairs, rdpoConfig.data.trainPairs, 'both arms train on the same number of pairs');
  }
  const report = readFileSync(result.reportPath, 'utf8');
  t.regex(report, /\| RDPO \| \d+\.\d% \[/);
  t.regex(report, /RDPO vs DPO accuracy at 16 pairs: /);
  for (const plot of ['accuracy.svg', 'length.svg', 'efficiency.svg', 'reward_accuracy.svg']) {
    t.true(readFileSync(path.join(out, 'plots', plot), 'utf8').startsWith('<svg'), plot);
  }
  // A rerun reuses every finished job (result.json) instead of training again.
  const again = await runDemo({ outDir: out, schedule, log: () => {} });
  t.deepEqual(again.summary, result.summary);
});
