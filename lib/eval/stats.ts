// Small descriptive statistics for the evaluation summaries.

export interface Distribution {
  count: number;
  mean: number;
  median: number;
  /** Nearest-rank 90th percentile. */
  p90: number;
  min: number;
  max: number;
}

/** Mean, median (midpoint of the two middle values for an even count), p90, min, max; zeros when empty. */
export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { count: 0, mean: 0, median: 0, p90: 0, min: 0, max: 0 };
  const mean = sorted.reduce((s, v) => s + v, 0) / n;
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  const p90 = sorted[Math.max(0, Math.ceil(0.9 * n) - 1)]!;
  return { count: n, mean, median, p90, min: sorted[0]!, max: sorted[n - 1]! };
}

/** Standard error of the mean (sample standard deviation / √n); 0 for fewer than two values. */
export function standardError(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return Math.sqrt(variance / n);
}
