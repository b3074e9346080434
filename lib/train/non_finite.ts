// A step whose loss or gradient norm is NaN or infinite, with `onNonfinite: 'stop'` (the default):
// the run stops before the weights see it, and the error says where the last good weights are.
import { latestCheckpoint } from './checkpoint.js';

/** A NaN or infinite loss or gradient norm with `onNonfinite: 'stop'`; the weights were not updated with it. */
export class NonFiniteTrainingError extends Error {
  override name = 'NonFiniteTrainingError';
}

export function nonFiniteError(runDir: string, step: number, what: string, value: number): NonFiniteTrainingError {
  const last = latestCheckpoint(runDir);
  return new NonFiniteTrainingError(
    `step ${step}: the ${what} is ${value}; training stopped and nothing from this step was written. ` +
      (last ? `The last good checkpoint is ${last}. ` : 'No checkpoint was written before it. ') +
      'Lower --lr (or raise --warmup-steps / set --max-grad-norm), or pass --on-nonfinite skip-step to skip such steps.',
  );
}
