import test from 'ava';
import { dataTest, sharedData } from './helpers/data_paths.js';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SweepResults, SweepRow } from '../lib/eval/compare.js';
import type { PairwiseSummary } from '../lib/eval/pairwise.js';
import { sweepFindings, writeSweepReport } from '../lib/report/sweep_report.js';
import { countWins } from '../lib/eval/winrate.js';
import { distribution } from '../lib/eval/stats.js';
import { loadPromptSet } from '../lib/eval/prompts.js';

function summary(winsA: number, winsB: number, ties: number, stderr: number): PairwiseSummary {
  const winners = [...Array(winsA).fill('A'), ...Array(winsB).fill('B'), ...Array(ties).fill('tie')];
  const c = countWins(winners.map((winner) => ({ winner })));
  const lengths = { chars: distribution([100]) };
  return {
    ...c,
    items: c.judgments,
    winrateStdErr: stderr,
    byOrder: { AB: c, BA: c },
    modelA: 'a',
    modelB: 'b',
    judge: 'exact:arithmetic',
    judgeKind: 'exact',
    orders: ['AB'],
    repeats: 1,
    expectedJudgments: c.judgments,
    complete: true,
    failed: [],
    lengths: { A: lengths, B: lengths },
  };
}

function sweepRow(method: 'dpo' | 'rdpo', size: number, wins: number, acc: number, chars: number): SweepRow {
  return {
    method,
    size,
    steps: size / 10,
    preference: {
      pairs: 50,
      dropped: 0,
      beta: 0.1,
      reference: 'sft',
      rewardAccuracy: acc,
      meanRewardMargin: 0.2,
      meanChosenReward: 0.1,
      meanRejectedReward: -0.1,
      logprobAccuracy: 0.6,
      meanLogprobMargin: 1,
    },
    generation: { count: 100, chars: distribution([chars]), tokens: distribution([chars / 4]), truncated: 0 },
    vsSft: summary(wins, 100 - wins, 0, 0.03),
  };
}

function results(): SweepResults {
  return {
    model: 'base',
    data: 'pairs.jsonl',
    sizes: [100, 300],
    evalPairs: 50,
    trainPool: 950,
    prompts: { source: 'the 50 held-out pairs', count: 100 },
    judge: 'exact:arithmetic',
    judgeKind: 'exact',
    repeats: 1,
    seed: 0,
    beta: 0.1,
    sampling: { maxNewTokens: 32, temperature: 0, topP: 0.95, seed: 0 },
    train: { lr: 1e-4 },
    sft: {
      steps: 30,
      preference: sweepRow('dpo', 300, 50, 0.5, 300).preference,
      generation: { count: 100, chars: distribution([300]), tokens: distribution([75]), truncated: 0 },
      trainSize: 300,
    },
    rows: [sweepRow('dpo', 100, 52, 0.6, 400), sweepRow('rdpo', 100, 70, 0.7, 250), sweepRow('dpo', 300, 55, 0.62, 420), sweepRow('rdpo', 300, 56, 0.6, 260)],
    rdpoVsDpo: [
      { size: 100, summary: summary(80, 20, 0, 0.04) },
      { size: 300, summary: summary(52, 48, 0, 0.05) },
    ],
  };
}

test('findings follow the numbers and their standard errors', (t) => {
  const f = sweepFindings(results()).join('\n');
  // 100 pairs: 0.70 vs 0.52, se √2·0.03 ≈ 0.042 → clear; 300 pairs: 0.56 vs 0.55 → not.
  t.regex(f, /RDPO was above DPO at 2 of 2 training sizes; the difference exceeded two standard errors in RDPO's favour at 1 and in DPO's favour at 0\./);
  t.regex(f, /at 100 pairs, RDPO's winrate against DPO was 80\.0% ± 4\.0% \(RDPO preferred beyond two standard errors\)/);
  t.regex(f, /at 300 pairs, RDPO's winrate against DPO was 52\.0% ± 5\.0% \(within two standard errors of an even split\)/);
  t.regex(f, /RDPO reached DPO's best winrate against SFT \(55\.0% at 300 pairs\) with 100 pairs \(70\.0%\), 3\.0× fewer/);
  t.regex(f, /RDPO higher than DPO at 1 of 2 sizes/);
  t.regex(f, /shorter on average than DPO's at 2 of 2 sizes \(mean over sizes 255 vs 410 characters; SFT 300\)/);
});

test('when DPO is ahead the findings say so', (t) => {
  const r = results();
  r.rows = [sweepRow('dpo', 100, 70, 0.7, 200), sweepRow('rdpo', 100, 50, 0.5, 300), sweepRow('dpo', 300, 72, 0.7, 200), sweepRow('rdpo', 300, 51, 0.5, 300)];
  r.rdpoVsDpo = [{ size: 100, summary: summary(20, 80, 0, 0.04) }];
  const f = sweepFindings(r).join('\n');
  t.regex(f, /RDPO was above DPO at 0 of 2 training sizes; the difference exceeded two standard errors in RDPO's favour at 0 and in DPO's favour at 2/);
  t.regex(f, /\(DPO preferred beyond two standard errors\)/);
  t.regex(f, /RDPO's winrate against SFT stayed below DPO's best/);
  t.regex(f, /shorter on average than DPO's at 0 of 2 sizes/);
});

test('the report has the set-up, both tables and the plots as SVG files', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'eval-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const md = await writeSweepReport(results(), dir);
  t.is(readFileSync(path.join(dir, 'report.md'), 'utf8'), md);
  t.true(md.includes('## What was measured'));
  t.true(md.includes('an exact checker (`exact:arithmetic`)'));
  t.true(md.includes('| RDPO | 100 | 10 | 70.0% |'));
  t.true(md.includes('### RDPO against DPO'));
  t.deepEqual(readdirSync(path.join(dir, 'plots')).sort(), ['mean_length.svg', 'rdpo_vs_dpo.svg', 'reward_accuracy.svg', 'winrate_vs_sft.svg']);
  for (const f of ['mean_length.svg', 'rdpo_vs_dpo.svg', 'reward_accuracy.svg', 'winrate_vs_sft.svg']) {
    t.true(md.includes(`(plots/${f})`));
    const svg = readFileSync(path.join(dir, 'plots', f), 'utf8');
    t.true(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'), f);
  }
  // The winrate plot holds one point per run.
  const svg = readFileSync(path.join(dir, 'plots', 'winrate_vs_sft.svg'), 'utf8');
  const points = /<g class="mark-symbol role-mark[^"]*"[^>]*>(.*?)<\/g>/s.exec(svg)![1]!;
  t.is((points.match(/<path /g) ?? []).length, 4);
});

dataTest('mt_bench-questions.jsonl', 'vicuna_bench-questions.jsonl')(
  'prompt sets: MT-Bench and Vicuna questions give their first turn, keyed by question_id',
  async (t) => {
    const mt = await loadPromptSet(sharedData('mt_bench-questions.jsonl'));
    t.is(mt.length, 80);
    t.is(mt[0]!.id, '81');
    t.true(typeof mt[0]!.prompt === 'string' && mt[0]!.prompt.startsWith('Compose an engaging travel blog post about a recent trip to Hawaii'));
    const vicuna = await loadPromptSet(sharedData('vicuna_bench-questions.jsonl'), { limit: 10, seed: 3 });
    t.is(vicuna.length, 10);
    t.is(new Set(vicuna.map((p) => p.id)).size, 10);
    t.deepEqual(await loadPromptSet(sharedData('vicuna_bench-questions.jsonl'), { limit: 10, seed: 3 }), vicuna);
  },
);

dataTest('orca_dpo_pairs-284.openai-dpo.jsonl')('prompt sets: a preference file gives the prompts of its pairs', async (t) => {
  const orca = await loadPromptSet(sharedData('orca_dpo_pairs-284.openai-dpo.jsonl'), { limit: 5 });
  t.is(orca.length, 5);
  // Orca rows carry a system message: the prompt is a conversation with it first.
  const first = orca[0]!.prompt;
  t.true(Array.isArray(first));
});
