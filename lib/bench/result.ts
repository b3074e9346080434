// The numbers `rdpo-native bench --json` prints. Keys are snake_case and shared with
// bench/trl_peer.py so that bench/run.mjs can put the two side by side.
import { median, medianPhases, type TimedRun } from './harness.js';
import { modelFlopsUtilization, trainingFlops } from '../model/flops.js';

export interface BenchResult {
  impl: 'rdpo-native' | 'trl';
  loss: string;
  dtype: string;
  device: string;
  threads: number;
  batch_size: number;
  warmup_steps: number;
  steps: number;
  precompute_ref: boolean;
  /** Pair tokens plus rationale tokens per timed step, on average. */
  tokens_per_step: number;
  /** Pair tokens plus rationale tokens over the timed steps. */
  tokens: number;
  /** The rationale part of `tokens` (0 for DPO). */
  rationale_tokens: number;
  median_step_s: number;
  step_s: number[];
  /** Reference work for the timed pairs done outside the steps (precomputed), included in window_s. */
  ref_precompute_s: number;
  window_s: number;
  /** Process CPU seconds (all threads) over the same window. */
  cpu_s: number;
  tokens_per_sec: number;
  /** Chosen + rejected tokens only: the count TRL's DPO reports. */
  pair_tokens_per_sec: number;
  /** Chosen + rejected tokens per process CPU second: steadier than wall time on a shared machine. */
  pair_tokens_per_cpu_sec: number;
  matmul_params: number;
  flops: number;
  matmul_peak_flops: number;
  /** The dtype the peak was measured in (float32 for bf16 on a CPU that emulates it) and how. */
  matmul_peak_dtype?: string;
  matmul_peak_source?: string;
  /** FLOPs over TRL's token count (the comparable figure); null where it would exceed 100% (see model/flops.ts). */
  mfu: number | null;
  /** Token rows each side's models actually computed over the timed steps (policy, reference). */
  computed_tokens: { policy: number; reference: number } | null;
  /** The same FLOP convention over the rows actually computed: how busy the matmul units really were. */
  hardware_mfu: number | null;
  peak_rss_mb: number;
  peak_cuda_mb: number | null;
  /** Median seconds per phase inside a step, where the trainer reports them. */
  phases_median_s?: Record<string, number>;
  versions: Record<string, string>;
  load_avg_1m: number;
  /** The performance levers' switches during the run (native/core/runtime/perf_options.h), where known. */
  perf_options?: Record<string, boolean>;
}

export interface SummaryContext {
  loss: string;
  dtype: string;
  device: string;
  threads: number;
  batchSize: number;
  precomputeRef: boolean;
  matmulParams: number;
  matmulPeakFlops: number;
  matmulPeakDtype?: string;
  matmulPeakSource?: string;
  peakRssMb: number;
  peakCudaMb: number | null;
  versions: Record<string, string>;
  loadAvg1m: number;
}

export function summarize(run: TimedRun, ctx: SummaryContext): BenchResult {
  const sum = (f: (s: TimedRun['samples'][number]) => number) => run.samples.reduce((a, s) => a + f(s), 0);
  const pairTokens = sum((s) => s.pairTokens);
  const rationaleTokens = sum((s) => s.rationaleTokens);
  const referenceTokens = sum((s) => s.referenceTokens);
  const windowS = run.stepSeconds.reduce((a, b) => a + b, 0);
  const cpuS = run.stepCpuSeconds.reduce((a, b) => a + b, 0);
  const tokens = pairTokens + rationaleTokens;
  const flops = trainingFlops(ctx.matmulParams, { trained: tokens, reference: referenceTokens });
  const phases = medianPhases(run.samples);
  const computed = run.samples.every((s) => s.computedTokens)
    ? { policy: sum((s) => s.computedTokens!.policy), reference: sum((s) => s.computedTokens!.reference) }
    : null;
  return {
    impl: 'rdpo-native',
    loss: ctx.loss,
    dtype: ctx.dtype,
    device: ctx.device,
    threads: ctx.threads,
    batch_size: ctx.batchSize,
    warmup_steps: run.warmupSteps,
    steps: run.stepSeconds.length,
    precompute_ref: ctx.precomputeRef,
    tokens_per_step: tokens / run.stepSeconds.length,
    tokens,
    rationale_tokens: rationaleTokens,
    median_step_s: median(run.stepSeconds),
    step_s: run.stepSeconds,
    ref_precompute_s: sum((s) => s.referenceOutsideSeconds),
    window_s: windowS,
    cpu_s: cpuS,
    tokens_per_sec: tokens / windowS,
    pair_tokens_per_sec: pairTokens / windowS,
    pair_tokens_per_cpu_sec: pairTokens / cpuS,
    matmul_params: ctx.matmulParams,
    flops,
    matmul_peak_flops: ctx.matmulPeakFlops,
    ...(ctx.matmulPeakDtype ? { matmul_peak_dtype: ctx.matmulPeakDtype } : {}),
    ...(ctx.matmulPeakSource ? { matmul_peak_source: ctx.matmulPeakSource } : {}),
    mfu: modelFlopsUtilization({
      matmulParams: ctx.matmulParams,
      tokens: { trained: tokens, reference: referenceTokens },
      seconds: windowS,
      peakFlopsPerSec: ctx.matmulPeakFlops,
    }),
    computed_tokens: computed,
    hardware_mfu: computed
      ? modelFlopsUtilization({
          matmulParams: ctx.matmulParams,
          tokens: { trained: computed.policy, reference: computed.reference },
          seconds: windowS,
          peakFlopsPerSec: ctx.matmulPeakFlops,
        })
      : null,
    peak_rss_mb: ctx.peakRssMb,
    peak_cuda_mb: ctx.peakCudaMb,
    ...(phases ? { phases_median_s: phases } : {}),
    versions: ctx.versions,
    load_avg_1m: ctx.loadAvg1m,
  };
}

export function formatResult(r: BenchResult): string {
  const lines = [
    `${r.impl} ${r.loss} ${r.dtype} on ${r.device} (${r.threads} threads), ${r.batch_size} pairs/step, ` +
      `${r.warmup_steps} warm-up + ${r.steps} timed steps${r.precompute_ref ? ', reference precomputed' : ''}`,
    `  tokens/s        ${r.tokens_per_sec.toFixed(1)}  (${r.tokens_per_step.toFixed(0)} tokens/step` +
      `${r.rationale_tokens ? `, ${(r.rationale_tokens / r.steps).toFixed(0)} of them rationale` : ''})`,
    `  median step     ${r.median_step_s.toFixed(3)} s (${(r.cpu_s / r.steps).toFixed(2)} CPU s a step on average)`,
    `  MFU             ${r.mfu === null ? 'n/a (above 100% of the peak below: that peak is not the ceiling)' : `${(100 * r.mfu).toFixed(1)}%`} of a ` +
      `${(r.matmul_peak_flops / 1e9).toFixed(1)} GFLOP/s ${r.matmul_peak_dtype ?? r.dtype} matmul peak` +
      `${r.hardware_mfu === null ? '' : ` (${(100 * r.hardware_mfu).toFixed(1)}% counting the rows actually computed)`}`,
    ...(r.matmul_peak_source ? [`  peak measured   ${r.matmul_peak_source}`] : []),
    `  peak RSS        ${r.peak_rss_mb.toFixed(0)} MB`,
  ];
  if (r.peak_cuda_mb !== null) lines.push(`  peak CUDA mem   ${r.peak_cuda_mb.toFixed(0)} MB`);
  if (r.phases_median_s) {
    lines.push(
      '  phases (median s): ' +
        Object.entries(r.phases_median_s)
          .map(([k, v]) => `${k} ${v.toFixed(3)}`)
          .join(', '),
    );
  }
  return lines.join('\n');
}
