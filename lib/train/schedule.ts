// Learning rate at an optimiser step: linear warm-up, then constant, linear decay to 0, or
// cosine decay to 0 (the schedules of Hugging Face's get_*_schedule_with_warmup).
export type LrSchedule = 'constant' | 'linear' | 'cosine';
/**
 * The warm-up's factor at step s (from 0) of W: 'hf' s/W (transformers' get_*_schedule_with_warmup:
 * the first step runs at lr 0); 'halos' min(1, (s+1)/(W+1)) (the RDPO authors' LambdaLR,
 * reds-lab/preference-learning-with-rationales trainers.py:343).
 */
export type WarmupForm = 'hf' | 'halos';
export const WARMUP_FORMS: readonly WarmupForm[] = ['hf', 'halos'];

export function learningRateAt(
  step: number,
  opts: { lr: number; warmupSteps: number; totalSteps: number; schedule: LrSchedule; warmupForm?: WarmupForm },
): number {
  const { lr, warmupSteps, totalSteps, schedule } = opts;
  if (warmupSteps > 0 && step < warmupSteps) return opts.warmupForm === 'halos' ? (lr * (step + 1)) / (warmupSteps + 1) : (lr * step) / warmupSteps;
  if (schedule === 'constant') return lr;
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / decaySteps));
  if (schedule === 'linear') return lr * (1 - progress);
  return lr * 0.5 * (1 + Math.cos(Math.PI * progress));
}
