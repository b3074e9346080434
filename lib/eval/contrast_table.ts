// The statistics of a seeds × held-out-pairs sweep (scripts/pandalm_curves.mjs, docs/results.md):
// per (arm, size) the mean score with a crossed-bootstrap interval, and named paired contrasts
// (arm − arm, or arm − a fixed per-pair baseline such as the start model) on the seeds both sides share.
// Kept apart from the script so that the numbers the write-up quotes come from tested code.
import { crossedBootstrap, excludesZero, pairedDifference, type BootstrapInterval, type BootstrapOptions } from './paired_bootstrap.js';

/** One (arm, size) cell: values[i][u] is seed seeds[i]'s score on held-out unit u (the same units in every cell). */
export interface ScoreMatrix {
  arm: string;
  size: number;
  seeds: readonly number[];
  values: readonly (readonly number[])[];
}

/** a − b at every size where both exist; b is an arm, or one score per unit shared by every seed (a baseline). */
export interface ContrastSpec {
  name: string;
  a: string;
  b: string | { baseline: readonly number[] };
}

export interface CellSummary extends BootstrapInterval {
  arm: string;
  size: number;
  seeds: number[];
  /** The mean over units, per seed, in the order of `seeds`. */
  perSeed: number[];
}

export interface ContrastSummary extends BootstrapInterval {
  name: string;
  size: number;
  /** The seeds both sides have (a contrast is paired by seed and by unit). */
  seeds: number[];
  perSeed: number[];
  excludesZero: boolean;
}

const rowMean = (row: readonly number[]) => row.reduce((s, v) => s + v, 0) / row.length;

function checkCell(c: ScoreMatrix): void {
  if (c.seeds.length !== c.values.length) {
    throw new RangeError(`score matrix ${c.arm} @ ${c.size}: ${c.seeds.length} seeds but ${c.values.length} rows of values`);
  }
  if (new Set(c.seeds).size !== c.seeds.length) throw new RangeError(`score matrix ${c.arm} @ ${c.size}: a seed is listed twice (${c.seeds.join(', ')})`);
}

/** Mean and crossed-bootstrap 95% interval of every cell, in the given order. */
export function cellSummaries(cells: readonly ScoreMatrix[], opts: BootstrapOptions = {}): CellSummary[] {
  return cells.map((c) => {
    checkCell(c);
    return { arm: c.arm, size: c.size, seeds: [...c.seeds], perSeed: c.values.map(rowMean), ...crossedBootstrap(c.values, opts) };
  });
}

/** Every contrast at every size where its sides share at least one seed, sizes ascending. */
export function contrastSummaries(cells: readonly ScoreMatrix[], specs: readonly ContrastSpec[], opts: BootstrapOptions = {}): ContrastSummary[] {
  cells.forEach(checkCell);
  const cell = (arm: string, size: number) => cells.find((c) => c.arm === arm && c.size === size);
  const sizes = [...new Set(cells.map((c) => c.size))].sort((x, y) => x - y);
  const out: ContrastSummary[] = [];
  for (const spec of specs) {
    for (const size of sizes) {
      const a = cell(spec.a, size);
      if (!a) continue;
      let seeds: number[];
      let diff: number[][];
      if (typeof spec.b === 'string') {
        const b = cell(spec.b, size);
        if (!b) continue;
        seeds = a.seeds.filter((s) => b.seeds.includes(s));
        if (seeds.length === 0) continue;
        diff = pairedDifference(
          seeds.map((s) => a.values[a.seeds.indexOf(s)]!),
          seeds.map((s) => b.values[b.seeds.indexOf(s)]!),
        );
      } else {
        const base = spec.b.baseline;
        seeds = [...a.seeds];
        diff = pairedDifference(
          a.values,
          a.values.map(() => base),
        );
      }
      const i = crossedBootstrap(diff, opts);
      out.push({ name: spec.name, size, seeds, perSeed: diff.map(rowMean), ...i, excludesZero: excludesZero(i) });
    }
  }
  return out;
}
