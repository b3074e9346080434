// summary.json of the built-in demo: per model (SFT, and DPO/RDPO at the largest size) the mean over
// seeds with a 95% t-interval, every seed's value, and the data-efficiency curve. Accuracies are
// fractions.
import type { DemoJobResult, DemoSchedule } from './demo_jobs.js';

/** Two-sided 95% Student t quantiles by degrees of freedom (1–10); larger samples use 1.96. */
const T95 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

export interface MeanInterval {
  mean: number;
  /** [low, high] of the 95% t-interval over seeds; null with a single seed. */
  ci95: [number, number] | null;
  perSeed: number[];
}

export function meanInterval(values: readonly number[]): MeanInterval {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, ci95: null, perSeed: [...values] };
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  const half = (T95[n - 1] ?? 1.96) * (sd / Math.sqrt(n));
  return { mean, ci95: [mean - half, mean + half], perSeed: [...values] };
}

export interface DemoModelSummary {
  /** Mean held-out accuracy over seeds (fraction). */
  accuracy: number;
  ci95: [number, number] | null;
  accuracyPerSeed: number[];
  /** Mean answer length in characters over seeds. */
  length: number;
  lengthCi95: [number, number] | null;
  lengthPerSeed: number[];
  lengthTokens: number;
  fillerRate: number;
  cueReversedAccuracy: MeanInterval | null;
  /** Preference pairs (null for SFT). */
  pairs: number | null;
}

export interface DemoSummary {
  models: { sft: DemoModelSummary; dpo: DemoModelSummary; rdpo: DemoModelSummary };
  efficiency: Array<{ loss: 'dpo' | 'rdpo'; pairs: number; accuracy: number; ci95: [number, number] | null; accuracyPerSeed: number[]; length: number }>;
  seeds: number[];
  sizes: number[];
  evalQuestions: number;
}

function modelSummary(rows: readonly DemoJobResult[], pairs: number | null): DemoModelSummary {
  const seeds = [...rows].sort((a, b) => a.seed - b.seed);
  const acc = meanInterval(seeds.map((r) => r.accuracy));
  const len = meanInterval(seeds.map((r) => r.meanChars));
  const cue = seeds.every((r) => r.cueReversedAccuracy !== null) ? meanInterval(seeds.map((r) => r.cueReversedAccuracy!)) : null;
  return {
    accuracy: acc.mean,
    ci95: acc.ci95,
    accuracyPerSeed: acc.perSeed,
    length: len.mean,
    lengthCi95: len.ci95,
    lengthPerSeed: len.perSeed,
    lengthTokens: meanInterval(seeds.map((r) => r.meanTokens)).mean,
    fillerRate: meanInterval(seeds.map((r) => r.fillerRate)).mean,
    cueReversedAccuracy: cue,
    pairs,
  };
}

export function summarizeDemo(results: readonly DemoJobResult[], schedule: DemoSchedule): DemoSummary {
  const sizes = [...schedule.sizes].sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1]!;
  const pick = (kind: DemoJobResult['kind'], pairs: number | null) => {
    const rows = results.filter((r) => r.kind === kind && r.pairs === pairs);
    if (rows.length !== schedule.seeds.length) throw new Error(`demo summary: ${kind}${pairs ? ` at ${pairs} pairs` : ''} has ${rows.length} of ${schedule.seeds.length} seeds`);
    return rows;
  };
  const efficiency = (['dpo', 'rdpo'] as const).flatMap((loss) =>
    sizes.map((pairs) => {
      const s = modelSummary(pick(loss, pairs), pairs);
      return { loss, pairs, accuracy: s.accuracy, ci95: s.ci95, accuracyPerSeed: s.accuracyPerSeed, length: s.length };
    }),
  );
  return {
    models: { sft: modelSummary(pick('sft', null), null), dpo: modelSummary(pick('dpo', largest), largest), rdpo: modelSummary(pick('rdpo', largest), largest) },
    efficiency,
    seeds: [...schedule.seeds],
    sizes,
    evalQuestions: schedule.evalQuestions,
  };
}
