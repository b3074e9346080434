// train(): a run read top to bottom. The run directory and its config (run_directory.ts), the set-up
// of the run (training_run_setup.ts: data, data-parallel handshake, resume, LoRA, reference pass,
// policy and trainer), then the loop over optimiser steps of the TrainingRun (training_run.ts):
// step, evaluate, checkpoint, until the last step or a stop request; then final/.
// Exact resume: the data order, learning rates and float32 master weights are all reproduced
// from the checkpoint, so a resumed run logs the metrics an uninterrupted one would have.
import path from 'node:path';
import { stopReasonOf, type TrainCallbacks } from './callbacks.js';
import type { TrainConfigInput } from './config.js';
import { DataParallelSetupError, rankEnv } from './data_parallel.js';
import type { MetricsRow } from './metrics.js';
import { TrainProgress } from './progress.js';
import { checkpointName } from './checkpoint.js';
import { claimRunDirectory, resolveRun } from './run_directory.js';
import { openTrainingRun } from './training_run_setup.js';
import type { TrainingRun } from './training_run.js';

export { NonFiniteTrainingError } from './non_finite.js';
export { resolvedRunConfig } from './run_directory.js';

/**
 * `onStep`, `onEvaluate` and `onCheckpoint` (callbacks.ts) may return `stopTraining(reason)`;
 * `callbacks` adds more of them (e.g. `earlyStopping({ metric: 'loss', patience: 2 })`).
 */
export interface TrainHooks extends TrainCallbacks {
  callbacks?: TrainCallbacks[];
  /** Aborting stops after the current step and writes a checkpoint (and final/, from that step). */
  signal?: AbortSignal;
  log?: (message: string) => void;
  /** Show a progress bar on stderr (the CLI does). */
  progress?: boolean;
}

export interface TrainResult {
  runDir: string;
  /** The trained model in Hugging Face format (after a stop: the weights of the step it stopped at). */
  finalModelDir: string | undefined;
  steps: number;
  totalSteps: number;
  /** Stopped by the AbortSignal (Ctrl-C): a checkpoint was written; `--resume` continues it. */
  interrupted: boolean;
  /** Training ended before totalSteps: at which step, and why (a callback's reason, or the interruption). */
  stopped?: { step: number; reason: string };
  lastMetrics: MetricsRow | undefined;
  lastEval: MetricsRow | undefined;
}

/** What a run is asked besides its settings (none of it is recorded in config.json). */
export interface TrainRunOptions {
  resume?: string;
  /** Start again in a run directory that already holds a run of ours (its run files are removed). */
  overwrite?: boolean;
  /** `--resume` although the data file changed since the run started (the resume is then not exact). */
  acceptDataChange?: boolean;
}

export async function train(input: TrainConfigInput & TrainRunOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const { overwrite, acceptDataChange, ...settings } = input;
  const ranks = rankEnv();
  const main = !ranks || ranks.rank === 0;
  const log = !main ? () => {} : (hooks.log ?? ((m: string) => process.stderr.write(`${m}\n`)));
  if (ranks && settings.out === undefined && settings.resume === undefined) {
    throw new DataParallelSetupError(
      `data-parallel training (WORLD_SIZE=${ranks.worldSize}) needs --out (or --resume): every rank must name the same run directory`,
    );
  }
  const resolved = resolveRun(settings, log);
  // Rank 0 alone checks, clears and locks the directory; the lock is held to the end.
  const lock = main ? claimRunDirectory(resolved, { ...(overwrite ? { overwrite } : {}), log }) : undefined;
  try {
    const run = await openTrainingRun(resolved, { ranks, log, acceptDataChange: acceptDataChange === true });
    const { state, totalSteps, runDir } = run;
    const control = new StopRequests(run, hooks);
    const progress = new TrainProgress(totalSteps, state.step, run.config.loss, main && (hooks.progress ?? false));
    const profile = startProfile(run);
    let lastMetrics: MetricsRow | undefined;
    let lastEval: MetricsRow | undefined;
    let interrupted = false;
    try {
      while (state.step < totalSteps) {
        if (await control.requested()) {
          interrupted = control.reason === undefined;
          break;
        }
        lastMetrics = (await run.step()).row;
        await control.ask((c) => c.onStep?.(lastMetrics!, control.context()));
        progress.update(lastMetrics);
        if (run.periodicEvaluationAfter(state.step)) lastEval = await evaluate(run, control);
        const stopping = await control.requested();
        if (run.periodicCheckpointAfter(state.step) || stopping) {
          const dir = await run.checkpoint(stopping ? (control.reason ?? 'interrupted') : undefined);
          await control.ask((c) => c.onCheckpoint?.({ dir, step: state.step }, control.context()));
        }
        if (stopping && state.step < totalSteps) {
          interrupted = control.reason === undefined;
          const where = path.join(runDir, 'checkpoints', checkpointName(state.step));
          if (interrupted) log(`\ninterrupted: checkpoint written to ${where}; continue with --resume ${runDir}`);
          else log(`\nstopped at step ${state.step} of ${totalSteps}: ${control.reason}; checkpoint written to ${where}`);
          break;
        }
      }
      progress.stop();
      // A stop for any reason ends with final/ too: the weights of the step it stopped at.
      const stopped = state.step < totalSteps ? (control.reason ?? 'interrupted; continue with --resume') : undefined;
      if (!stopped && run.eval.length > 0 && !run.periodicEvaluationAfter(state.step)) lastEval = await evaluate(run, control);
      const finalDir = await run.saveFinal(stopped);
      if (stopped) log(`final/ holds the weights of step ${state.step} of ${totalSteps} (${stopped}): ${finalDir}`);
      const end = { steps: state.step, totalSteps, interrupted, lastMetrics, lastEval, ...(stopped ? { stopped: { step: state.step, reason: stopped } } : {}) };
      return { runDir, finalModelDir: finalDir, ...end };
    } finally {
      progress.stop();
      run.closeMetrics();
      profile?.stop(log);
      run.close();
    }
  } finally {
    lock?.release();
  }
}

/** An evaluation row, and the callbacks told of it. */
async function evaluate(run: TrainingRun, control: StopRequests): Promise<MetricsRow | undefined> {
  const row = await run.evaluate();
  if (row) await control.ask((c) => c.onEvaluate?.(row, control.context()));
  return row;
}

/**
 * The reasons a run stops before its last step: the AbortSignal (Ctrl-C, SIGTERM) and the callbacks'
 * stop requests (callbacks.ts). The first request wins; the run stops after the current step.
 */
class StopRequests {
  /** The first callback's stop reason; undefined while none asked (or when only the signal did). */
  reason: string | undefined;
  private readonly callbacks: TrainCallbacks[];

  constructor(
    private readonly run: TrainingRun,
    private readonly hooks: TrainHooks,
  ) {
    this.callbacks = [hooks, ...(hooks.callbacks ?? [])];
  }

  context() {
    return { runDir: this.run.runDir, step: this.run.state.step, totalSteps: this.run.totalSteps };
  }

  /** Runs every callback (also after a stop request); keeps the first stop reason. */
  async ask(call: (c: TrainCallbacks) => unknown): Promise<void> {
    for (const c of this.callbacks) {
      const reason = stopReasonOf(await call(c));
      this.reason ??= reason;
    }
  }

  /** Whether the run stops after this step; data-parallel, a Ctrl-C that reached any rank stops every rank at the same step. */
  requested(): Promise<boolean> {
    return this.run.anyRankStops(this.hooks.signal?.aborted === true || this.reason !== undefined);
  }
}

/**
 * RDPO_PROFILE=trace.json: a Chrome trace of LibTorch's profiler over the optimiser steps (keep
 * --max-steps small: every op is recorded). Read it with bench/profile_table.mjs.
 */
function startProfile(run: TrainingRun): { stop: (log: (m: string) => void) => void } | undefined {
  const file = process.env.RDPO_PROFILE ? path.resolve(process.env.RDPO_PROFILE) : undefined;
  if (!file) return undefined;
  run.native.startProfiler();
  return {
    stop: (log) => {
      run.native.stopProfiler(file);
      log(`profile written to ${file}`);
    },
  };
}
