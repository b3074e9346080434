// The learning-rate pilot's rule (docs/demo.md): for each arm, the grid point with the highest mean
// probability of the correct answer on the validation questions, over the pilot's replicates; a tie
// goes to the smaller learning rate. Every score is kept, so the choice can be checked.
import type { DemoArm, DemoJobResult } from './demo_jobs.js';

export interface PilotChoice {
  /** The chosen learning rate per arm: what DEMO_SCHEDULE.lr freezes. */
  lr: Record<string, number>;
  /** Mean validation pCorrect per arm and learning rate, and the SFT reference's. */
  scores: Array<{ arm: DemoArm; lr: number; pCorrect: number; perReplicate: number[] }>;
  sft: { pCorrect: number; perReplicate: number[] };
  replicates: number[];
  grid: number[];
}

const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

export function choosePilotLearningRates(results: readonly DemoJobResult[], arms: readonly DemoArm[], grid: readonly number[]): PilotChoice {
  const replicates = [...new Set(results.map((r) => r.seed))].sort((a, b) => a - b);
  const perReplicate = (rows: DemoJobResult[], what: string) => {
    if (rows.length !== replicates.length) throw new Error(`demo pilot: ${what} has ${rows.length} of ${replicates.length} replicates`);
    return [...rows].sort((a, b) => a.seed - b.seed).map((r) => mean(r.pCorrect));
  };
  const scores = arms.flatMap((arm) =>
    grid.map((lr) => {
      const v = perReplicate(
        results.filter((r) => r.arm === arm && r.lr === lr),
        `${arm} at lr ${lr}`,
      );
      return { arm, lr, pCorrect: mean(v), perReplicate: v };
    }),
  );
  const lr: Record<string, number> = {};
  for (const arm of arms) {
    const best = scores.filter((s) => s.arm === arm).sort((a, b) => b.pCorrect - a.pCorrect || a.lr - b.lr)[0]!;
    lr[arm] = best.lr;
  }
  const sft = perReplicate(
    results.filter((r) => r.arm === 'sft'),
    'SFT',
  );
  return { lr, scores, sft: { pCorrect: mean(sft), perReplicate: sft }, replicates, grid: [...grid] };
}
