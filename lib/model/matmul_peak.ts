// The achieved matmul FLOP/s of this machine, MFU's denominator for both the trainer and the bench.
import { loadNative } from '../native/load.js';
import type { NativeDtype } from '../native/binding.js';

export interface MatmulPeakOptions {
  dtype: NativeDtype;
  device: string;
  /** Square matrix size; default 1024 on CPU, 8192 on an accelerator. */
  size?: number;
  /** Timed matmuls per trial; default 5 on CPU, 20 on an accelerator. */
  iterations?: number;
  /** Trials; the best counts (default 5). */
  trials?: number;
}

/**
 * Achieved FLOP/s of square matmuls in `dtype` on `device`, measured now: the best of several
 * trials, since on a shared machine the slower ones measure the other load, not the machine.
 */
export async function measureMatmulPeak(opts: MatmulPeakOptions): Promise<number> {
  const cpu = opts.device === 'cpu';
  let best = 0;
  for (let t = 0; t < (opts.trials ?? 5); t++) {
    const r = await loadNative().measureMatmulPeak(opts.size ?? (cpu ? 1024 : 8192), opts.iterations ?? (cpu ? 5 : 20), opts.dtype, opts.device);
    best = Math.max(best, r.flopsPerSec);
  }
  return best;
}
