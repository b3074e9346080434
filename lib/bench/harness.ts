// Warm-up, then timed steps: the measuring half of `rdpo-native bench`, independent of what a step
// does. The step function runs one whole optimiser step on the real trainer path (batch assembly
// included) and says how many tokens it processed; the harness times it from the outside.

/** What one step reports about itself. */
export interface StepSample {
  /** Non-pad tokens of the chosen and rejected sequences, prompt included (TRL's collator count). */
  pairTokens: number;
  /** Rationale-row tokens trained in this step (RDPO; 0 for DPO). */
  rationaleTokens: number;
  /** Tokens the reference model forwarded for this step's pairs, in the step or precomputed. */
  referenceTokens: number;
  /**
   * Token rows the policy and the reference actually computed (a shared prompt once, padding
   * included where a side pads): the basis of hardware_mfu, against the TRL-count basis of mfu.
   */
  computedTokens?: { policy: number; reference: number };
  /** Seconds of reference work for this step's pairs done outside the step (precomputed), charged to it. */
  referenceOutsideSeconds: number;
  /** Process CPU seconds (user + sys) of that outside reference work. */
  referenceOutsideCpuSeconds?: number;
  /** Optional seconds per phase measured inside the step (forward, backward, loss, optimizer, reference …). */
  phases?: Record<string, number>;
  /** Seconds inside the step call spent on diagnostics that are not part of a training step (not timed). */
  excludedSeconds?: number;
  /** Process CPU seconds of those diagnostics. */
  excludedCpuSeconds?: number;
}

export type StepFn = (index: number) => Promise<StepSample>;

export interface TimedRun {
  warmupSteps: number;
  /** Wall seconds of each timed step, reference work outside the step included, diagnostics excluded. */
  stepSeconds: number[];
  /**
   * Process CPU seconds (user + sys, all threads) of each timed step, counted the same way. Less
   * sensitive than wall time to other processes on a shared machine (though spinning threads count).
   */
  stepCpuSeconds: number[];
  samples: StepSample[];
}

export interface HarnessOptions {
  warmup: number;
  steps: number;
  /** Called after each step (warm-up ones too) with its index and wall seconds, e.g. for progress. */
  onStep?: (index: number, seconds: number, warmup: boolean) => void;
  /** Waits for queued device work so that wall time covers it (CUDA); none on CPU. */
  synchronize?: () => void;
}

export async function runTimedSteps(step: StepFn, opts: HarnessOptions): Promise<TimedRun> {
  if (!Number.isInteger(opts.warmup) || opts.warmup < 0) throw new RangeError(`warm-up steps must be an integer ≥ 0, got ${opts.warmup}`);
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new RangeError(`timed steps must be an integer ≥ 1, got ${opts.steps}`);
  const stepSeconds: number[] = [];
  const stepCpuSeconds: number[] = [];
  const samples: StepSample[] = [];
  for (let i = 0; i < opts.warmup + opts.steps; i++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const sample = await step(i);
    opts.synchronize?.();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSecondsSince(c0);
    const warmup = i < opts.warmup;
    opts.onStep?.(i, seconds, warmup);
    if (warmup) continue;
    stepSeconds.push(seconds - (sample.excludedSeconds ?? 0) + sample.referenceOutsideSeconds);
    stepCpuSeconds.push(cpu - (sample.excludedCpuSeconds ?? 0) + (sample.referenceOutsideCpuSeconds ?? 0));
    samples.push(sample);
  }
  return { warmupSteps: opts.warmup, stepSeconds, stepCpuSeconds, samples };
}

/** Process CPU seconds (user + sys) since `start` (a process.cpuUsage() reading). */
export function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median seconds of each phase over the timed steps that report it. */
export function medianPhases(samples: readonly StepSample[]): Record<string, number> | undefined {
  const byPhase = new Map<string, number[]>();
  for (const s of samples) for (const [k, v] of Object.entries(s.phases ?? {})) byPhase.set(k, [...(byPhase.get(k) ?? []), v]);
  if (byPhase.size === 0) return undefined;
  return Object.fromEntries([...byPhase].map(([k, v]) => [k, median(v)]));
}
