// Intervals for a mean over a crossed design: replicates (seeds, training runs) × units (questions,
// held-out pairs), the same units in every replicate. A t-interval over replicate means ignores the
// units' own variance: three seeds that each differ by one answer in 200 give a zero-width interval.
// The bootstrap here resamples replicates and units independently (the two-way "crossed" bootstrap of
// Owen 2007, "The pigeonhole bootstrap"), so both sources of variance reach the interval. For a paired
// contrast pass the per-(replicate, unit) difference of the two arms.
import { SeededRandom } from '../util/random.js';

export interface BootstrapInterval {
  mean: number;
  /** Percentile 95% interval of the resampled means. */
  ci95: [number, number];
  replicates: number;
  units: number;
  /**
   * True when every value is the same: the interval then has zero width because nothing varied,
   * which says "no difference in any unit", not that the mean is known exactly.
   */
  degenerate: boolean;
}

export interface BootstrapOptions {
  /** Resamples (default 2000). */
  draws?: number;
  seed?: number;
}

/** values[r][u]: replicate r, unit u. Every row must have the same number of units. */
export function crossedBootstrap(values: readonly (readonly number[])[], opts: BootstrapOptions = {}): BootstrapInterval {
  const R = values.length;
  const U = values[0]?.length ?? 0;
  if (R === 0 || U === 0) throw new RangeError('crossedBootstrap: need at least one replicate and one unit');
  for (const [r, row] of values.entries()) {
    if (row.length !== U) throw new RangeError(`crossedBootstrap: replicate ${r} has ${row.length} units, replicate 0 has ${U}; the design must be crossed`);
    for (const v of row) if (!Number.isFinite(v)) throw new RangeError(`crossedBootstrap: replicate ${r} has a non-finite value ${v}`);
  }
  const mean = values.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0) / (R * U);
  const first = values[0]![0]!;
  const degenerate = values.every((row) => row.every((v) => v === first));
  const draws = opts.draws ?? 2000;
  const rng = new SeededRandom(opts.seed ?? 12345);
  const means = new Float64Array(draws);
  const rows = new Int32Array(R);
  const cols = new Int32Array(U);
  for (let d = 0; d < draws; d++) {
    for (let r = 0; r < R; r++) rows[r] = Math.floor(rng.next() * R);
    for (let u = 0; u < U; u++) cols[u] = Math.floor(rng.next() * U);
    let s = 0;
    for (let r = 0; r < R; r++) {
      const row = values[rows[r]!]!;
      for (let u = 0; u < U; u++) s += row[cols[u]!]!;
    }
    means[d] = s / (R * U);
  }
  means.sort();
  const at = (q: number) => means[Math.min(draws - 1, Math.max(0, Math.round(q * (draws - 1))))]!;
  return { mean, ci95: [at(0.025), at(0.975)], replicates: R, units: U, degenerate };
}

/** The paired difference a − b, unit by unit, as crossedBootstrap's input. */
export function pairedDifference(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number[][] {
  if (a.length !== b.length) throw new RangeError(`pairedDifference: ${a.length} replicates against ${b.length}`);
  return a.map((row, r) => {
    const other = b[r]!;
    if (row.length !== other.length) throw new RangeError(`pairedDifference: replicate ${r} has ${row.length} units against ${other.length}`);
    return row.map((v, u) => v - other[u]!);
  });
}

/** Whether the interval excludes zero: a difference shown at the 95% level. */
export function excludesZero(i: BootstrapInterval): boolean {
  return i.ci95[0] > 0 || i.ci95[1] < 0;
}
