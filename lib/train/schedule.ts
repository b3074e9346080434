// Learning rate at an optimiser step: linear warm-up, then constant, linear decay to 0, or
// cosine decay to 0 (the schedules of Hugging Face's get_*_schedule_with_warmup).
export type LrSchedule = 'constant' | 'linear' | 'cosine';

export function learningRateAt(step: number, opts: { lr: number; warmupSteps: number; totalSteps: number; schedule: LrSchedule }): number {
  const { lr, warmupSteps, totalSteps, schedule } = opts;
  if (warmupSteps > 0 && step < warmupSteps) return (lr * step) / warmupSteps;
  if (schedule === 'constant') return lr;
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / decaySteps));
  if (schedule === 'linear') return lr * (1 - progress);
  return lr * 0.5 * (1 + Math.cos(Math.PI * progress));
}
