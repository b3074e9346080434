// Bounded retries with exponential backoff and jitter, honouring a server's Retry-After.

/** A failed model request, already classified: generators translate their errors into this. */
export class GeneratorError extends Error {
  override name = 'GeneratorError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly options: { status?: number; retryAfterMs?: number; aborted?: boolean } = {},
  ) {
    super(message);
  }
  get status(): number | undefined {
    return this.options.status;
  }
}

export interface RetryPolicy {
  /** Total tries, the first included (>= 1). */
  maxAttempts: number;
  /** Backoff before retry k (1-based) is about baseDelayMs * 2^(k-1), capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is clamped to it, so one server cannot stall a run for hours. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

/** HTTP statuses worth another try: timeouts, conflicts, rate limits and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** `Retry-After` (seconds or an HTTP date) or the non-standard `retry-after-ms`; undefined if absent or unparseable. */
export function parseRetryAfter(get: (name: string) => string | null | undefined, now = Date.now()): number | undefined {
  const ms = get('retry-after-ms');
  if (ms != null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = get('retry-after');
  if (value == null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** "Equal jitter": half the exponential delay fixed, half random, so retrying clients spread out. */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return exp / 2 + random() * (exp / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortError(): GeneratorError {
  return new GeneratorError('aborted', false, { aborted: true });
}

export interface RetryEvent {
  attempt: number;
  error: GeneratorError;
  delayMs: number;
}

/**
 * Runs `fn` until it succeeds, fails with a non-retryable error, or `maxAttempts` tries are spent
 * (then the last error is thrown). Errors that are not GeneratorErrors are bugs, thrown at once.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: { signal?: AbortSignal; onRetry?: (e: RetryEvent) => void; random?: () => number } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw abortError();
    try {
      return await fn(attempt);
    } catch (err) {
      if (!(err instanceof GeneratorError) || !err.retryable || attempt >= policy.maxAttempts) throw err;
      const backoff = backoffDelay(attempt, policy, options.random);
      const retryAfter = err.options.retryAfterMs;
      const delayMs = retryAfter !== undefined ? Math.min(Math.max(retryAfter, 0), policy.maxRetryAfterMs) : backoff;
      options.onRetry?.({ attempt, error: err, delayMs });
      await sleep(delayMs, options.signal);
    }
  }
}
