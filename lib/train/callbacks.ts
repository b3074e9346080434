// Typed callbacks of the programmatic train(): each may return `stopTraining(reason)` to end the run
// after the current step. A stopped run ends like a finished one: final/ holds the weights of the
// step it stopped at (its README.md and trainer_state.json say which), and the result says why.
import type { MetricsRow } from './metrics.js';

export interface StopTraining {
  stop: true;
  reason: string;
}

/** Ask the trainer to stop after the current step. */
export function stopTraining(reason: string): StopTraining {
  return { stop: true, reason };
}

/** What a callback returns: nothing (go on) or a stop request. `false` is "go on" too. */
export type CallbackResult = undefined | undefined | false | StopTraining;

export interface TrainContext {
  runDir: string;
  step: number;
  totalSteps: number;
}

export interface TrainCallbacks {
  /** After every optimiser step, with its metrics.jsonl row. */
  onStep?: (row: MetricsRow, context: TrainContext) => CallbackResult | Promise<CallbackResult>;
  /** After every evaluation on the held-out pairs, with its `eval: true` row. */
  onEvaluate?: (row: MetricsRow, context: TrainContext) => CallbackResult | Promise<CallbackResult>;
  /** After a checkpoint directory is written. */
  onCheckpoint?: (checkpoint: { dir: string; step: number }, context: TrainContext) => CallbackResult | Promise<CallbackResult>;
}

/** The reason of a stop request, or undefined. */
export function stopReasonOf(result: unknown): string | undefined {
  return result !== null && typeof result === 'object' && (result as StopTraining).stop === true ? String((result as StopTraining).reason) : undefined;
}

export interface EarlyStoppingOptions {
  /** An evaluation metric of metrics.jsonl: 'loss', 'rewards/accuracies', 'rewards/margins', … */
  metric: string;
  /** Evaluations without improvement before stopping (transformers' early_stopping_patience). */
  patience: number;
  /** 'min' or 'max'; default, as transformers: 'min' for a metric ending in "loss", else 'max'. */
  mode?: 'min' | 'max';
  /** Improvement needed to count (early_stopping_threshold); default 0. */
  minDelta?: number;
}

export interface EarlyStopping extends TrainCallbacks {
  /** The best value seen so far and its step. */
  readonly best: { value: number; step: number } | undefined;
}

/**
 * Stops when `metric` has not improved on its best by more than `minDelta` for `patience`
 * evaluations in a row (transformers' EarlyStoppingCallback). Needs evalEvery and an eval split.
 */
export function earlyStopping(o: EarlyStoppingOptions): EarlyStopping {
  if (!Number.isInteger(o.patience) || o.patience < 1) throw new RangeError(`earlyStopping: patience must be a whole number >= 1, got ${o.patience}`);
  const mode = o.mode ?? (o.metric.endsWith('loss') ? 'min' : 'max');
  const minDelta = o.minDelta ?? 0;
  let best: { value: number; step: number } | undefined;
  let without = 0;
  return {
    get best() {
      return best;
    },
    onEvaluate(row) {
      const value = row[o.metric];
      if (typeof value !== 'number') {
        throw new Error(
          `earlyStopping: the evaluation row has no metric '${o.metric}'; it has ${Object.keys(row)
            .filter((k) => typeof row[k] === 'number')
            .join(', ')}`,
        );
      }
      const better = best === undefined || (mode === 'min' ? value < best.value - minDelta : value > best.value + minDelta);
      if (better) {
        best = { value, step: row.step };
        without = 0;
        return undefined;
      }
      without++;
      if (without < o.patience) return undefined;
      return stopTraining(
        `early stopping: eval ${o.metric} did not improve on ${best!.value} (step ${best!.step}) for ${without} evaluation${without === 1 ? '' : 's'}`,
      );
    },
  };
}
