// Runs independent jobs with a concurrency limit and two-stage interruption: `stop` (first Ctrl-C)
// takes no new job but lets running ones finish; `abandon` (second Ctrl-C, SIGTERM) also aborts them.
import { GeneratorError, withRetry, type RetryEvent, type RetryPolicy } from '../llm/retry.js';
import type { Progress } from './progress.js';

export interface Interruption {
  stop: AbortSignal;
  abandon: AbortSignal;
}

export interface JobOutcome {
  failed: Array<{ id: string; error: string }>;
  /** Jobs never started or abandoned mid-flight because of an interruption. */
  notRun: number;
  interrupted: boolean;
}

export interface JobSpec<T> {
  id: string;
  item: T;
}

/**
 * Calls `work` for each job, at most `concurrency` at once, retrying GeneratorErrors per `retry`.
 * `work` records its own result (synchronously, before it resolves); errors land in `failed`.
 */
export async function runJobs<T>(
  jobs: JobSpec<T>[],
  options: {
    concurrency: number;
    retry: RetryPolicy;
    interruption?: Interruption;
    progress?: Progress;
    onRetry?: (job: JobSpec<T>, e: RetryEvent) => void;
    work: (item: T, signal: AbortSignal | undefined, attempt: number) => Promise<void>;
  },
): Promise<JobOutcome> {
  const { interruption } = options;
  const failed: JobOutcome['failed'] = [];
  let next = 0;
  let abandoned = 0;

  const lane = async () => {
    while (next < jobs.length && !interruption?.stop.aborted) {
      const job = jobs[next++]!;
      try {
        await withRetry((attempt) => options.work(job.item, interruption?.abandon, attempt), options.retry, {
          ...(interruption ? { signal: interruption.abandon } : {}),
          onRetry: (e) => options.onRetry?.(job, e),
        });
        options.progress?.tick('done');
      } catch (err) {
        if (err instanceof GeneratorError && err.options.aborted) {
          abandoned++;
          continue;
        }
        if (!(err instanceof GeneratorError)) throw err;
        failed.push({ id: job.id, error: err.message });
        options.progress?.tick('failed');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, jobs.length)) }, lane));
  const notRun = jobs.length - next + abandoned;
  return { failed, notRun, interrupted: interruption?.stop.aborted === true };
}
