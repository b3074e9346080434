// The built-in demo's whole pipeline on a shortened schedule: model from scratch, SFT, DPO,
// RDPO, exact-checker evaluation, report with plots. (`npx rdpo-native train` runs the full one.)
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runDemo } from '../lib/demo/run_demo.js';
import { judgeArithmetic, extractAnswer, isCorrect } from '../lib/demo/arithmetic_task.js';

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

test('the demo pipeline trains SFT, DPO and RDPO and writes an honest report with plots', async (t) => {
  const out = mkdtempSync(path.join(tmpdir(), 'rdpo-demo-'));
  const logs: string[] = [];
  const result = await runDemo({ outDir: out, pairs: 96, sftSteps: 12, preferenceSteps: 4, evalQuestions: 16, batchSize: 8, log: (m) => logs.push(m) });
  t.is(result.models.map((m) => m.name).join(','), 'sft,dpo,rdpo');
  for (const m of result.models) {
    t.true(m.accuracy >= 0 && m.accuracy <= 1);
    t.true(Number.isFinite(m.meanChars) && m.meanChars >= 0);
  }
  for (const run of ['sft', 'dpo', 'rdpo']) {
    t.true(existsSync(path.join(out, 'runs', run, 'final', 'model.safetensors')), `${run} final model`);
    t.true(existsSync(path.join(out, 'runs', run, 'metrics.jsonl')));
  }
  const rdpoRows = readFileSync(path.join(out, 'runs', 'rdpo', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.true(rdpoRows.some((r) => typeof r['nll/rationale'] === 'number'), 'RDPO trained on rationales');
  const report = readFileSync(result.reportPath, 'utf8');
  t.regex(report, /\| RDPO vs DPO \| \d+ \| \d+ \| \d+ \|/);
  for (const plot of ['accuracy.svg', 'length.svg', 'reward_accuracy.svg', 'reward_margin.svg']) {
    const svg = readFileSync(path.join(out, 'plots', plot), 'utf8');
    t.true(svg.startsWith('<svg'), plot);
  }
  t.true(existsSync(path.join(out, 'base-model', 'tokenizer.json')));
});
