// The skeleton every resumable pipeline shares (rationales, their filter, pairwise judging, eval's
// generation): open its crash-safe journals, say what a torn last line means, skip what the
// journals already hold, queue the rest once each, and run the queue with progress and retries.
// What a job does and what its rows hold stay with the pipeline; the on-disk format is its journal's.
import { Journal } from './journal.js';
import { Progress } from './progress.js';
import { runJobs, type Interruption, type JobOutcome, type JobSpec } from './runner.js';
import type { RetryPolicy } from '../llm/retry.js';

export class ResumableJournals {
  private constructor(
    readonly journals: Journal[],
    /** Complete rows already in each journal, in file order. */
    readonly rows: unknown[][],
    /** Bytes of a torn last line cut off each journal (0 where it ended cleanly). */
    readonly tornBytes: number[],
  ) {}

  /**
   * Opens every file as a journal (closing those already open if one fails) and logs each torn
   * last line with `redo`, what happens to the row it held ("that pair is redone").
   */
  static open(files: readonly string[], redo: string, log: (line: string) => void): ResumableJournals {
    const opened: ReturnType<typeof Journal.open>[] = [];
    try {
      for (const file of files) opened.push(Journal.open(file));
    } catch (err) {
      for (const o of opened) o.journal.close();
      throw err;
    }
    for (const o of opened) {
      if (o.tornBytes > 0) log(`${o.journal.path}: cut off a torn last line (${o.tornBytes} bytes) left by an interrupted run; ${redo}`);
    }
    return new ResumableJournals(
      opened.map((o) => o.journal),
      opened.map((o) => o.rows),
      opened.map((o) => o.tornBytes),
    );
  }

  /** The resume keys of the rows already written, over every journal (`keyOf` undefined: the row does not count). */
  doneKeys(keyOf: (row: unknown) => string | undefined): Set<string> {
    const done = new Set<string>();
    for (const rows of this.rows) {
      for (const row of rows) {
        const key = keyOf(row);
        if (key !== undefined) done.add(key);
      }
    }
    return done;
  }

  close(): void {
    for (const j of this.journals) j.close();
  }
}

export interface Queue<T> {
  jobs: JobSpec<T>[];
  /** Items whose key a journal already holds. */
  skipped: number;
  /** Items whose key an earlier item of this run already queued. */
  duplicates: number;
}

/** Queues each item whose key is not done, once per key, in input order. */
export function queueUndone<T>(items: Iterable<T>, done: ReadonlySet<string>, keyOf: (item: T) => string, idOf: (item: T) => string): Queue<T> {
  const queued = new Set<string>();
  const jobs: JobSpec<T>[] = [];
  let skipped = 0;
  let duplicates = 0;
  for (const item of items) {
    const key = keyOf(item);
    if (done.has(key)) skipped++;
    else if (queued.has(key)) duplicates++;
    else {
      queued.add(key);
      jobs.push({ id: idOf(item), item });
    }
  }
  return { jobs, skipped, duplicates };
}

export interface RunQueueOptions<T> {
  /** The progress bar's label. */
  label: string;
  /** How a retry note names a job: `${noun} ${id}: …`. */
  noun: string;
  concurrency: number;
  retry: RetryPolicy;
  interruption?: Interruption;
  /** Show the progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  log: (line: string) => void;
  /** Does one job and appends its row (runner.ts: before it resolves). */
  work: (item: T, signal: AbortSignal | undefined, attempt: number) => Promise<void>;
}

/** Runs the queue under runner.ts with a progress bar on stderr and a note per retry. */
export async function runQueue<T>(jobs: JobSpec<T>[], options: RunQueueOptions<T>): Promise<JobOutcome> {
  const progress = new Progress(jobs.length, options.label, options.progress ?? process.stderr.isTTY === true);
  try {
    return await runJobs(jobs, {
      concurrency: options.concurrency,
      retry: options.retry,
      ...(options.interruption ? { interruption: options.interruption } : {}),
      progress,
      onRetry: (job, e) =>
        progress.note(`${options.noun} ${job.id}: ${e.error.message}; try ${e.attempt + 1} in ${(e.delayMs / 1000).toFixed(1)} s`, options.log),
      work: options.work,
    });
  } finally {
    progress.stop();
  }
}
