// One row per optimiser step in RUN_DIR/metrics.jsonl, with TRL's metric names where they exist.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic_write.js';
import { JsonlAppender, readJsonlRows } from '../util/jsonl_append.js';

export interface MetricsRow {
  step: number;
  epoch: number;
  loss: number;
  learning_rate?: number;
  grad_norm?: number;
  tokens: number;
  rationale_tokens?: number;
  total_tokens?: number;
  tokens_per_sec?: number;
  mfu?: number;
  eval?: true;
  [name: string]: number | boolean | undefined;
}

/** A tracker (report_to.ts): it receives every row metrics.jsonl receives, in the same order. */
export interface MetricsSink {
  write(row: MetricsRow): void;
  close(): void;
}

/** Averages the metrics of the micro-batches of one optimiser step (token counts are summed). */
export class StepAccumulator {
  private sums = new Map<string, number>();
  private count = 0;
  add(values: Record<string, number>): void {
    this.count++;
    for (const [k, v] of Object.entries(values)) this.sums.set(k, (this.sums.get(k) ?? 0) + v);
  }
  result(summed: readonly string[] = ['tokens', 'rationale_tokens', 'packed_tokens']): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.sums) out[k] = summed.includes(k) ? v : v / Math.max(1, this.count);
    return out;
  }
}

export class MetricsLog {
  private appender: JsonlAppender;
  /** `sinks`: the trackers of `reportTo` (report_to.ts); each gets every row written here. */
  constructor(
    readonly file: string,
    private readonly sinks: readonly MetricsSink[] = [],
  ) {
    this.appender = new JsonlAppender(file);
  }
  write(row: MetricsRow): void {
    for (const sink of this.sinks) sink.write(row);
    // JSON has no NaN/Infinity (JSON.stringify writes null, read back as "no value"): a skipped
    // step's non-finite values are written as the strings "NaN", "Infinity", "-Infinity".
    const safe = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? String(v) : v]));
    this.appender.append(safe);
  }
  close(): void {
    this.appender.close();
    for (const sink of this.sinks) sink.close();
  }
  /**
   * On resume: keep the rows up to `step` (what the checkpoint saw), drop later ones and any torn
   * line, so the resumed log reads as if the run had never stopped.
   */
  static truncateAfter(file: string, step: number): void {
    if (!existsSync(file)) return;
    const lines = readFileSync(file, 'utf8').split('\n');
    const kept: string[] = [];
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const row = JSON.parse(line) as MetricsRow;
        if (row.step <= step) kept.push(line);
      } catch {
        // a torn last line from a kill: dropped
      }
    }
    // Atomic: a kill during the rewrite must not lose the rows the checkpoint already saw.
    writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
  }
}

/**
 * The rows of a run's metrics.jsonl (none when it is missing), with the strings "NaN", "Infinity" and
 * "-Infinity" that `MetricsLog.write` stores for non-finite values read back as numbers.
 */
export function readMetricsLog(file: string): MetricsRow[] {
  const special: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };
  return readJsonlRows<Record<string, unknown>>(file).map(
    (row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && v in special ? special[v] : v])) as MetricsRow,
  );
}
