// The bench's step function over the real trainer (lib/train/trainer.ts).
// NOT DONE: the trainer has not landed on main yet; until it does, bench stops here with this error.
import type { BenchOptions, Stepper } from './run_bench.js';

export async function trainerStepper(_opts: BenchOptions): Promise<Stepper> {
  throw new Error('rdpo-native bench needs the trainer (lib/train/trainer.ts), which is not in this build yet');
}
