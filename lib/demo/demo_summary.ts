// summary.json of the built-in demo (docs/demo.md): per model the mean over replicates × test
// questions with a crossed-bootstrap 95% interval, the efficiency curve, the paired contrasts, and
// `valid` — whether the preference stage measurably moved the model at all. Accuracies are fractions.
import { crossedBootstrap, excludesZero, pairedDifference, type BootstrapInterval } from '../eval/paired_bootstrap.js';
import type { DemoArm, DemoJobResult, DemoSchedule } from './demo_jobs.js';

export type DemoModelName = 'sft' | DemoArm;
export type DemoMetric = 'pCorrect' | 'accuracy';
/** The metric `valid` and the contrasts' headline read (docs/demo.md: fixed before any result). */
export const PRIMARY_METRIC: DemoMetric = 'pCorrect';

const DRAWS = 2000;
const boot = (values: number[][]) => crossedBootstrap(values, { draws: DRAWS, seed: 2407 });

export interface DemoModelSummary {
  pairs: number | null;
  /** Greedy accuracy on the test questions, mean over replicates × questions. */
  accuracy: number;
  ci95: [number, number];
  accuracyPerReplicate: number[];
  pCorrect: number;
  pCorrectCi95: [number, number];
  pCorrectPerReplicate: number[];
  /** Mean greedy answer length in characters. */
  length: number;
  lengthCi95: [number, number];
  fillerRate: number;
  /** Share of cue-reversed pairs whose implicit reward prefers the correct, shorter answer; null for SFT. */
  cueReversedAccuracy: number | null;
  cueReversedCi95: [number, number] | null;
}

export interface DemoContrast {
  /** "a-b": a's metric minus b's, the same question in the same replicate. */
  name: string;
  pairs: number;
  metric: DemoMetric;
  mean: number;
  ci95: [number, number];
  /** Zero width because nothing varied: not a finding either way. */
  degenerate: boolean;
  /** The interval excludes 0. */
  shown: boolean;
}

export interface DemoSummary {
  /** DPO at the largest size above SFT on the primary metric, interval excluding 0. */
  valid: boolean;
  primaryMetric: DemoMetric;
  replicates: number;
  testQuestions: number;
  seeds: number[];
  sizes: number[];
  lr: Record<DemoArm, number>;
  models: Partial<Record<DemoModelName, DemoModelSummary>> & { sft: DemoModelSummary };
  efficiency: Array<{
    loss: DemoArm;
    pairs: number;
    accuracy: number;
    ci95: [number, number];
    pCorrect: number;
    pCorrectCi95: [number, number];
    length: number;
  }>;
  contrasts: DemoContrast[];
}

/** A model's per-(replicate, question) values, replicates in seed order. */
function matrix(rows: readonly DemoJobResult[], field: 'pCorrect' | 'greedyCorrect' | 'greedyChars' | 'filler' | 'reversedCorrect'): number[][] {
  return rows.map((r) => {
    const v = r[field];
    if (!v) throw new Error(`demo summary: ${r.arm} seed ${r.seed} has no ${field}`);
    return v;
  });
}

const metricField = (m: DemoMetric): 'pCorrect' | 'greedyCorrect' => (m === 'pCorrect' ? 'pCorrect' : 'greedyCorrect');
const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const ci = (i: BootstrapInterval): [number, number] => i.ci95;

function modelSummary(rows: readonly DemoJobResult[], pairs: number | null): DemoModelSummary {
  const acc = boot(matrix(rows, 'greedyCorrect'));
  const p = boot(matrix(rows, 'pCorrect'));
  const len = boot(matrix(rows, 'greedyChars'));
  const cue = rows.every((r) => r.reversedCorrect) ? boot(matrix(rows, 'reversedCorrect')) : null;
  return {
    pairs,
    accuracy: acc.mean,
    ci95: ci(acc),
    accuracyPerReplicate: rows.map((r) => mean(r.greedyCorrect!)),
    pCorrect: p.mean,
    pCorrectCi95: ci(p),
    pCorrectPerReplicate: rows.map((r) => mean(r.pCorrect)),
    length: len.mean,
    lengthCi95: ci(len),
    fillerRate: boot(matrix(rows, 'filler')).mean,
    cueReversedAccuracy: cue ? cue.mean : null,
    cueReversedCi95: cue ? ci(cue) : null,
  };
}

export function contrast(a: readonly DemoJobResult[], b: readonly DemoJobResult[], name: string, pairs: number, metric: DemoMetric): DemoContrast {
  const i = boot(pairedDifference(matrix(a, metricField(metric)), matrix(b, metricField(metric))));
  return { name, pairs, metric, mean: i.mean, ci95: i.ci95, degenerate: i.degenerate, shown: excludesZero(i) };
}

export function summarizeDemo(results: readonly DemoJobResult[], schedule: DemoSchedule): DemoSummary {
  const sizes = [...schedule.sizes].sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1]!;
  const pick = (arm: DemoModelName, pairs: number | null): DemoJobResult[] => {
    const rows = results.filter((r) => r.arm === arm && r.pairs === pairs && r.split === 'test').sort((x, y) => x.seed - y.seed);
    if (rows.length !== schedule.seeds.length)
      throw new Error(`demo summary: ${arm}${pairs ? ` at ${pairs} pairs` : ''} has ${rows.length} of ${schedule.seeds.length} replicates`);
    return rows;
  };
  const sft = pick('sft', null);
  const models: DemoSummary['models'] = { sft: modelSummary(sft, null) };
  for (const arm of [...schedule.arms, ...schedule.armsAtLargest]) models[arm] = modelSummary(pick(arm, largest), largest);
  const efficiency = schedule.arms.flatMap((loss) =>
    sizes.map((pairs) => {
      const m = modelSummary(pick(loss, pairs), pairs);
      return { loss, pairs, accuracy: m.accuracy, ci95: m.ci95, pCorrect: m.pCorrect, pCorrectCi95: m.pCorrectCi95, length: m.length };
    }),
  );
  const contrasts: DemoContrast[] = [];
  const has = (arm: DemoArm, pairs: number) => (pairs === largest ? [...schedule.arms, ...schedule.armsAtLargest] : schedule.arms).includes(arm);
  for (const metric of [PRIMARY_METRIC, 'accuracy'] as const) {
    for (const pairs of sizes) {
      const wanted: Array<[DemoArm, DemoModelName]> = [
        ['dpo', 'sft'],
        ['rdpo', 'dpo'],
        ['rdpo', 'rdpo_null'],
        ['rdpo_null', 'dpo'],
        ['rdpo', 'sft'],
        ['rpo', 'dpo'],
      ];
      for (const [a, b] of wanted) {
        if (!has(a, pairs) || (b !== 'sft' && !has(b, pairs))) continue;
        contrasts.push(contrast(pick(a, pairs), b === 'sft' ? sft : pick(b, pairs), `${a}-${b}`, pairs, metric));
      }
    }
  }
  const gate = contrasts.find((c) => c.name === 'dpo-sft' && c.pairs === largest && c.metric === PRIMARY_METRIC)!;
  return {
    valid: gate.shown && gate.mean > 0,
    primaryMetric: PRIMARY_METRIC,
    replicates: schedule.seeds.length,
    testQuestions: sft[0]!.pCorrect.length,
    seeds: [...schedule.seeds],
    sizes,
    lr: { ...schedule.lr },
    models,
    efficiency,
    contrasts,
  };
}
