// The built-in demo (docs/demo.md): its task's data streams, the summary arithmetic, and the whole
// pipeline on a shortened schedule (`npx rdpo-native train` runs the full one).
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runDemo } from '../lib/demo/run_demo.js';
import { DEMO_SCHEDULE, type DemoArm, type DemoJobResult } from '../lib/demo/demo_jobs.js';
import { choosePilotLearningRates } from '../lib/demo/demo_pilot.js';
import { readContrast } from '../lib/demo/demo_report.js';
import { summarizeDemo } from '../lib/demo/demo_summary.js';
import {
  DEMO_TASK,
  FILLERS,
  extractAnswer,
  isCorrect,
  judgeArithmetic,
  makeCueReversedPairs,
  makePreferencePairs,
  makeSftDemonstrations,
  rationaleText,
  splitQuestions,
} from '../lib/demo/arithmetic_task.js';

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

test('the task: a fixed question split, a spurious length cue in the pairs, none in the SFT data, reversed in the held-out pairs', (t) => {
  const split = splitQuestions();
  t.deepEqual([split.train.length, split.validation.length, split.test.length], [40, 10, 50]);
  const key = (p: { a: number; b: number }) => `${p.a}+${p.b}`;
  const test_ = new Set(split.test.map(key));
  t.is(new Set([...split.train, ...split.validation, ...split.test].map(key)).size, 100, 'the split is a partition of the 100 questions');
  t.deepEqual(splitQuestions(), split, 'the same split every time');
  const pairs = makePreferencePairs(2000, 11, split.train);
  t.true(
    pairs.every((p) => !test_.has(key(p.meta as { a: number; b: number }))),
    'no test question in any pair',
  );
  const rate = (xs: string[]) => xs.filter(hasFiller).length / xs.length;
  t.true(
    pairs.every((p) => isCorrect(p.meta as never, p.chosen) && !isCorrect(p.meta as never, p.rejected)),
    'chosen correct, rejected wrong',
  );
  t.true(Math.abs(rate(pairs.map((p) => p.chosen)) - DEMO_TASK.chosenFiller) < 0.03);
  t.true(Math.abs(rate(pairs.map((p) => p.rejected)) - DEMO_TASK.rejectedFiller) < 0.03);
  const sft = makeSftDemonstrations(4000, 12);
  const correct = sft.filter((p) => isCorrect(p.meta as never, p.chosen));
  t.true(Math.abs(correct.length / sft.length - DEMO_TASK.sftCorrect) < 0.03);
  // Filler is independent of correctness in the demonstrations.
  t.true(Math.abs(rate(correct.map((p) => p.chosen)) - rate(sft.filter((p) => !correct.includes(p)).map((p) => p.chosen))) < 0.05);
  const reversed = makeCueReversedPairs(split.test, 2, 13);
  t.is(reversed.length, 100);
  t.true(reversed.every((p) => !hasFiller(p.chosen) && hasFiller(p.rejected)));
  t.deepEqual(makePreferencePairs(5, 11, split.train), pairs.slice(0, 5), 'seeded');
});

test('the rationale carries what the pair does not: the counting steps, which neither answer nor the question shows', (t) => {
  const text = rationaleText({ a: 3, b: 5, answer: 8 }, 7);
  t.is(text, 'Count on from 5: 6, 7, 8. So 3 + 5 = 8: the above is right and the below, 7, is wrong. The extra sentence does not matter.');
  t.is(
    rationaleText({ a: 3, b: 5, answer: 8 }, 9),
    'Count on from 5: 6, 7, 8. So 3 + 5 = 8: the above is right and the below, 9, is one too many. The extra sentence does not matter.',
  );
  t.is(
    rationaleText({ a: 4, b: 0, answer: 4 }, 3),
    '4 plus 0 stays 4. So 4 + 0 = 4: the above is right and the below, 3, is wrong. The extra sentence does not matter.',
  );
  // For 2 + 7 the steps 8, then 9 is the sum: "8" is in no answer or question.
  const steps = rationaleText({ a: 2, b: 7, answer: 9 }, 10)
    .match(/: ([\d, ]+)\./)![1]!
    .split(', ')
    .map(Number);
  t.deepEqual(steps, [8, 9]);
});

test('summary statistics: crossed-bootstrap intervals, the zero-width case flagged, `valid` read from DPO − SFT', (t) => {
  const schedule = { ...DEMO_SCHEDULE, seeds: [1, 2, 3], sizes: [8], arms: ['dpo', 'rdpo', 'rdpo_null'] as DemoArm[], armsAtLargest: [] as DemoArm[] };
  // 20 test questions; SFT right on 0–9; DPO right on 0–9 and on one more question per replicate,
  // a different one each time: per replicate DPO − SFT is exactly +1/20, a zero-width t-interval.
  const result = (arm: DemoJobResult['arm'], seed: number, correct: (q: number) => boolean): DemoJobResult => {
    const v = Array.from({ length: 20 }, (_, q) => (correct(q) ? 1 : 0));
    return {
      kind: arm === 'sft' ? 'sft' : 'pref',
      arm,
      seed,
      pairs: arm === 'sft' ? null : 8,
      lr: 1e-4,
      split: 'test',
      trainedPairs: 8,
      pCorrect: v.map((x) => 0.2 + 0.6 * x),
      greedyCorrect: v,
      greedyChars: v.map(() => 3),
      filler: v.map(() => 0),
      reversedCorrect: arm === 'sft' ? null : v,
      examples: [],
      seconds: 1,
      cpuSeconds: 1,
      modelDir: '',
      metrics: [],
    };
  };
  const results = [1, 2, 3].flatMap((seed) => [
    result('sft', seed, (q) => q < 10),
    result('dpo', seed, (q) => q < 10 || q === 10 + seed),
    result('rdpo', seed, (q) => q < 10 || q === 10 + seed),
    result('rdpo_null', seed, (q) => q < 10 || q === 10 + seed),
  ]);
  const s = summarizeDemo(results, schedule);
  const dpoSft = s.contrasts.find((c) => c.name === 'dpo-sft' && c.metric === 'accuracy')!;
  t.is(Math.round(dpoSft.mean * 1e9) / 1e9, 0.05);
  t.true(dpoSft.ci95[1] - dpoSft.ci95[0] > 0.02, 'question-level variance widens the interval');
  t.false(dpoSft.degenerate);
  const same = s.contrasts.find((c) => c.name === 'rdpo-dpo' && c.metric === 'accuracy')!;
  t.deepEqual(same.ci95, [0, 0]);
  t.true(same.degenerate, 'identical arms: flagged, not read as a difference');
  t.false(same.shown);
  t.is(s.valid, dpoSft.shown && dpoSft.mean > 0);
  t.is(s.replicates, 3);
  t.is(s.models.sft.accuracy, 0.5);
  t.is(s.models.sft.cueReversedAccuracy, null);
  t.is(readContrast(same).includes('not a finding'), true);
});

test('the pilot picks, per arm, the learning rate with the best validation P(correct); ties go to the smaller', (t) => {
  const row = (arm: DemoJobResult['arm'], lr: number, seed: number, p: number): DemoJobResult =>
    ({
      kind: 'pref',
      arm,
      seed,
      pairs: 8,
      lr,
      split: 'validation',
      trainedPairs: 8,
      pCorrect: [p, p],
      greedyCorrect: null,
      greedyChars: null,
      filler: null,
      reversedCorrect: null,
      examples: [],
      seconds: 1,
      cpuSeconds: 1,
      modelDir: '',
      metrics: [],
    }) as DemoJobResult;
  const results = [101, 102].flatMap((seed) => [
    { ...row('sft', 3e-3, seed, 0.3), kind: 'sft' as const, pairs: null },
    row('dpo', 1e-5, seed, 0.3),
    row('dpo', 1e-4, seed, 0.5),
    row('dpo', 3e-4, seed, 0.4),
    row('rdpo', 1e-5, seed, 0.6),
    row('rdpo', 1e-4, seed, 0.6),
    row('rdpo', 3e-4, seed, 0.2),
  ]);
  const choice = choosePilotLearningRates(results, ['dpo', 'rdpo'], [1e-5, 1e-4, 3e-4]);
  t.deepEqual(choice.lr, { dpo: 1e-4, rdpo: 1e-5 });
  t.is(choice.sft.pCorrect, 0.3);
  t.is(choice.scores.length, 6);
});

test('the demo pipeline on a shortened schedule: every arm per replicate and size, summary.json and a report with plots', async (t) => {
  const out = mkdtempSync(path.join(tmpdir(), 'rdpo-demo-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const logs: string[] = [];
  const schedule = { seeds: [1, 2], sizes: [16, 32], sftSteps: 8, preferenceEpochs: 1, batchSize: 8, maxNewTokens: 16 };
  const result = await runDemo({ outDir: out, schedule, log: (m) => logs.push(m) });
  const summary = JSON.parse(readFileSync(result.summaryPath, 'utf8')) as Record<string, any>;
  t.is(typeof summary.valid, 'boolean');
  t.is(summary.replicates, 2);
  t.is(summary.testQuestions, 50);
  for (const name of ['sft', 'dpo', 'rdpo', 'rdpo_null', 'rpo']) {
    const m = summary.models[name];
    t.true(m.accuracy >= 0 && m.accuracy <= 1, `${name} accuracy is a fraction`);
    t.true(m.pCorrect > 0 && m.pCorrect < 1, `${name} pCorrect is a probability`);
    t.true(m.ci95[0] <= m.accuracy && m.accuracy <= m.ci95[1]);
    t.true(m.pCorrectCi95[0] <= m.pCorrect && m.pCorrect <= m.pCorrectCi95[1]);
    t.true(Number.isFinite(m.length));
  }
  t.is(summary.models.sft.cueReversedAccuracy, null);
  t.true(summary.models.rdpo.cueReversedAccuracy >= 0);
  t.deepEqual(
    summary.efficiency.map((e: { loss: string; pairs: number }) => `${e.loss}@${e.pairs}`),
    ['dpo@16', 'dpo@32', 'rdpo@16', 'rdpo@32', 'rdpo_null@16', 'rdpo_null@32'],
  );
  const names = new Set(summary.contrasts.map((c: { name: string }) => c.name));
  for (const n of ['dpo-sft', 'rdpo-dpo', 'rdpo-rdpo_null', 'rpo-dpo']) t.true(names.has(n), n);
  for (const seed of [1, 2]) {
    const dir = path.join(out, `seed-${seed}`);
    t.true(existsSync(path.join(dir, 'sft', 'run', 'final', 'model.safetensors')));
    const rows = (arm: string) =>
      readFileSync(path.join(dir, `${arm}-32`, 'run', 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    t.true(
      rows('rdpo').some((r) => typeof r['nll/rationale'] === 'number'),
      'RDPO trained on rationales',
    );
    t.true(
      typeof rows('rdpo')[0]['grad_norm/rationale'] === 'number' && typeof rows('rdpo')[0]['grad_norm/preference'] === 'number',
      'term shares logged on the first step',
    );
    const config = (arm: string) => JSON.parse(readFileSync(path.join(dir, `${arm}-32`, 'run', 'config.json'), 'utf8'));
    t.like(config('rdpo').config, { loss: 'rdpo', rationaleForm: 'logsigmoid', gamma: 0.1 });
    t.is(config('dpo').data.trainPairs, config('rdpo_null').data.trainPairs, 'the arms train on the same pairs');
    // The null rationales have the real ones' byte lengths, and none of their words.
    const real = readFileSync(path.join(dir, 'pairs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).rationale as string);
    const nul = readFileSync(path.join(dir, 'pairs-null-rationale.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).rationale as string);
    t.deepEqual(
      nul.map((x) => Buffer.byteLength(x)),
      real.map((x) => Buffer.byteLength(x)),
    );
    t.true(nul.every((x) => /^(the( the)*)?\.*$/.test(x)));
  }
  const report = readFileSync(result.reportPath, 'utf8');
  t.regex(report, /\| RDPO-null \| \d+\.\d% \[/);
  t.regex(report, /RDPO − RDPO-null at 16 pairs, P\(correct\): /);
  t.regex(report, summary.valid ? /\*\*valid\*\*/ : /\*\*No conclusion\.\*\*/);
  for (const plot of ['p_correct.svg', 'length.svg', 'efficiency.svg', 'reward_accuracy.svg']) {
    t.true(readFileSync(path.join(out, 'plots', plot), 'utf8').startsWith('<svg'), plot);
  }
  // A rerun reuses every finished job (result.json) instead of training again.
  const again = await runDemo({ outDir: out, schedule, log: () => {} });
  t.deepEqual(again.summary, result.summary);
});
