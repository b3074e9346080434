// `rdpo-native bench`: warm-up, N timed optimiser steps on the trainer path, and the numbers
// (tokens/s, median step, MFU, peak RSS, peak accelerator memory) in BenchResult's shape.
import { nativeBf16, peakDtype } from '../model/compute_dtype.js';
import { dtypeMachine } from '../native/runtime.js';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { PerfOptionsRaw } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import { packageVersion } from '../native/runtime.js';
import { matmulParams, readDecoderShape } from '../model/flops.js';
import { runTimedSteps, type StepFn } from './harness.js';
import { measureMatmulPeak, peakDeviceMb, peakRssMb, resetPeakDeviceMemory, synchronizeDevice } from './machine.js';
import { summarize, type BenchResult } from './result.js';

export type BenchLoss = 'dpo' | 'rdpo';
export type BenchDtype = 'float32' | 'bfloat16';

export interface BenchOptions {
  model: string;
  data: string;
  loss: BenchLoss;
  /** Preference pairs per optimiser step. */
  batchSize: number;
  maxLength: number;
  maxPromptLength: number;
  dtype: BenchDtype;
  device: string;
  warmup: number;
  steps: number;
  /** Also time forward + loss without gradients for each timed batch (outside the step time), to split backward out. */
  phases?: boolean;
  lr: number;
  beta: number;
  seed: number;
  threads?: number;
  /**
   * Write a Chrome trace of LibTorch's profiler here (reference pass and every step; the trace
   * records the warm-up count so bench/profile_table.mjs leaves those steps out). Profiling slows
   * the steps, so the figures of a profiled run are not throughput figures.
   */
  profile?: string;
  matmulSize?: number;
  matmulIterations?: number;
  onStep?: (index: number, seconds: number, warmup: boolean) => void;
}

/** One optimiser step per call on pairs [index·B, (index+1)·B) of the data, in file order. */
export interface Stepper {
  step: StepFn;
  /** Whether reference log-probs are computed before the steps (their time is still charged to them). */
  precomputeRef: boolean;
  close?: () => void;
}

export type StepperFactory = (opts: BenchOptions) => Promise<Stepper>;

export async function runBench(opts: BenchOptions, makeStepper: StepperFactory): Promise<BenchResult> {
  const native = loadNative();
  if (opts.threads) native.setNumThreads(opts.threads);
  // Levers off/on for before/after figures, e.g. RDPO_PERF_OPTIONS='{"castWeightsOnce":false}'.
  const perf = process.env.RDPO_PERF_OPTIONS;
  if (perf) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(perf);
    } catch {
      throw new RangeError(`RDPO_PERF_OPTIONS is not JSON: ${perf} (e.g. '{"castWeightsOnce":false,"fusedRmsNorm":false}')`);
    }
    native.setPerfOptions(parsed as Partial<PerfOptionsRaw>);
  }
  const n = matmulParams(readDecoderShape(opts.model));
  if (opts.profile) native.startProfiler();
  let stepper: Stepper;
  try {
    stepper = await makeStepper(opts);
  } catch (e) {
    if (opts.profile) native.stopProfiler(opts.profile);
    throw e;
  }
  let run;
  try {
    resetPeakDeviceMemory(opts.device);
    run = await runTimedSteps(stepper.step, {
      warmup: opts.warmup,
      steps: opts.steps,
      synchronize: () => synchronizeDevice(opts.device),
      ...(opts.onStep ? { onStep: opts.onStep } : {}),
    });
  } finally {
    if (opts.profile) {
      native.stopProfiler(opts.profile);
      annotateTrace(opts.profile, {
        warmup: opts.warmup,
        steps: opts.steps,
        dtype: opts.dtype,
        batchSize: opts.batchSize,
        threads: native.runtimeInfo().intraOpThreads,
        levers: native.perfOptions(),
      });
    }
    stepper.close?.();
  }
  const peakCudaMb = peakDeviceMb(opts.device); // before the matmul peak allocates its own buffers
  // MFU's denominator in the dtype the matmuls really run in: emulated bf16 runs its products in
  // float32, so its own "peak" is the emulation's speed, not the hardware's ceiling.
  const native16 = nativeBf16(opts.device, dtypeMachine());
  const peakIn = peakDtype(opts.dtype, native16);
  const peak = await measureMatmulPeak({
    dtype: peakIn,
    device: opts.device,
    ...(opts.matmulSize ? { size: opts.matmulSize } : {}),
    ...(opts.matmulIterations ? { iterations: opts.matmulIterations } : {}),
  });
  const cpu = opts.device === 'cpu';
  const size = opts.matmulSize ?? (cpu ? 1024 : 8192);
  const peakSource =
    `best of 5 trials of ${opts.matmulIterations ?? (cpu ? 5 : 20)} ${size}×${size} ${peakIn} matmuls on ${opts.device}, measured after the steps` +
    (peakIn !== opts.dtype ? ` (float32, not bf16: ${native16.reason})` : '');
  const info = native.runtimeInfo();
  const levers = native.perfOptions();
  const result = summarize(run, {
    loss: opts.loss,
    dtype: opts.dtype,
    device: opts.device,
    threads: info.intraOpThreads,
    batchSize: opts.batchSize,
    precomputeRef: stepper.precomputeRef,
    matmulParams: n,
    matmulPeakFlops: peak,
    matmulPeakDtype: peakIn,
    matmulPeakSource: peakSource,
    peakRssMb: peakRssMb(),
    peakCudaMb,
    versions: { 'rdpo-native': packageVersion(), torch: info.torchVersion, node: process.version },
    loadAvg1m: os.loadavg()[0] ?? 0,
  });
  return { ...result, perf_options: { ...levers } };
}

/** Records the bench settings in the trace (a top-level key Chrome's viewer ignores) for bench/profile_table.mjs. */
function annotateTrace(file: string, meta: Record<string, unknown>): void {
  const trace = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  trace.rdpoBench = meta;
  writeFileSync(file, JSON.stringify(trace));
}
