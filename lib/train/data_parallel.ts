// Data-parallel training (docs/distributed.md): every rank runs the same training loop over its
// share of each global micro-batch; the gradients are summed in native code (native/core/distributed/)
// and the metrics here, so rank 0's metrics.jsonl reads as a one-process run's.
//
// A rank's share: the global micro-batch (the one-process batch of `batchSize` pairs, in the same
// global order) is cut into contiguous slices, one per rank, the first ranks taking one more pair
// when it does not divide. Each rank scales its loss by its share of the pairs, so the summed
// gradient is the gradient of the global batch mean.
import os from 'node:os';
import type { NativeBinding, NativeProcessGroup } from '../native/binding.js';
import { loadNative } from '../native/load.js';

/** torchrun's variables: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT. */
export interface RankEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
}

export class DataParallelSetupError extends Error {
  override name = 'DataParallelSetupError';
}

function intVar(env: NodeJS.ProcessEnv, name: string, min: number, max: number, fallback?: number): number {
  const text = env[name];
  if (text === undefined || text === '') {
    if (fallback !== undefined) return fallback;
    throw new DataParallelSetupError(`WORLD_SIZE is set, so ${name} must be set too (torchrun's variables: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)`);
  }
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new DataParallelSetupError(`${name}=${text}: expected an integer in ${min}..${max}`);
  return n;
}

/** The rank's place from torchrun-style variables; undefined when WORLD_SIZE is unset or 1 (one process). */
export function rankEnv(env: NodeJS.ProcessEnv = process.env): RankEnv | undefined {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return undefined;
  const worldSize = intVar(env, 'WORLD_SIZE', 1, 1 << 20);
  if (worldSize === 1) return undefined;
  const rank = intVar(env, 'RANK', 0, worldSize - 1);
  const localWorldSize = intVar(env, 'LOCAL_WORLD_SIZE', 1, worldSize, 1);
  return {
    rank,
    worldSize,
    localRank: intVar(env, 'LOCAL_RANK', 0, worldSize - 1, 0),
    localWorldSize,
    masterAddr: env.MASTER_ADDR || '127.0.0.1',
    masterPort: intVar(env, 'MASTER_PORT', 1, 65535),
  };
}

/** RDPO_DIST_TIMEOUT (seconds, default 600): the rendezvous and every collective give up after it. */
export function dataParallelTimeout(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.RDPO_DIST_TIMEOUT;
  if (text === undefined || text === '') return 600;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new DataParallelSetupError(`RDPO_DIST_TIMEOUT=${text}: expected seconds > 0`);
  return n;
}

/** The gradient bucket size when RDPO_DDP_BUCKET_MB is not set: the native core's (25 MiB, native/core/distributed/buckets.h). */
export function defaultBucketBytes(native: NativeBinding = loadNative()): number {
  return native.dataParallelSupport(false).defaultBucketBytes;
}

/** RDPO_DDP_BUCKET_MB (default: defaultBucketBytes()): the gradient bucket size, in bytes. */
export function bucketBytes(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.RDPO_DDP_BUCKET_MB;
  if (text === undefined || text === '') return defaultBucketBytes();
  const n = Number(text);
  if (!Number.isFinite(n) || n * 2 ** 20 < 1024) throw new DataParallelSetupError(`RDPO_DDP_BUCKET_MB=${text}: expected a size in MiB of at least 0.001`);
  return Math.round(n * 2 ** 20);
}

/** RDPO_DDP_OVERLAP=0 starts the gradient collectives after backward instead of during it (for A/B runs). */
export function overlapBackward(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.RDPO_DDP_OVERLAP !== '0';
}

/** Why this addon cannot train data-parallel, or undefined when it can. */
export function dataParallelUnavailable(native: NativeBinding): string | undefined {
  const s = native.dataParallelSupport(false);
  return s.compiled ? undefined : s.missing;
}

/**
 * The device a rank trains on: `cuda` becomes the rank's own GPU, cuda:LOCAL_RANK (torchrun's
 * convention); `cuda:N` and `cpu` are kept. CUDA ranks all-reduce with NCCL, CPU ranks with Gloo;
 * other devices have no c10d backend here.
 */
export function rankDevice(device: string, env: RankEnv): string {
  if (device === 'cuda') return `cuda:${env.localRank}`;
  if (device === 'cpu' || device.startsWith('cuda:')) return device;
  throw new DataParallelSetupError(`data-parallel training runs on --device cpu (Gloo) or cuda (NCCL), not ${device}`);
}

/** [start, end) of rank `rank`'s slice of `count` items. */
export function shareOf(count: number, rank: number, worldSize: number): { start: number; end: number } {
  const base = Math.floor(count / worldSize);
  const extra = count % worldSize;
  const start = rank * base + Math.min(rank, extra);
  return { start, end: start + base + (rank < extra ? 1 : 0) };
}

/** One micro-batch's metrics on this rank: `values` undefined when its share was empty. */
export interface LocalMetrics {
  pairs: number;
  values: Record<string, number> | undefined;
}

/** A 48-bit number from a string (exact as a float64), for checks that ranks agree. */
export function fingerprint(text: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return (h1 % 0x1000000) * 0x1000000 + (h2 % 0x1000000);
}

export class DataParallel {
  private knownKeys: string[] | undefined;

  constructor(
    readonly group: NativeProcessGroup,
    readonly env: RankEnv,
  ) {}

  get rank(): number {
    return this.group.rank;
  }
  get worldSize(): number {
    return this.group.worldSize;
  }
  get isMain(): boolean {
    return this.group.rank === 0;
  }

  /** Joins the group (waits for every rank, at most the timeout): Gloo on `device` cpu, NCCL on cuda:N (rankDevice). */
  static async join(native: NativeBinding, env: RankEnv, timeoutSeconds: number, device = 'cpu'): Promise<DataParallel> {
    const missing = dataParallelUnavailable(native);
    if (missing) throw new DataParallelSetupError(`data-parallel training (WORLD_SIZE=${env.worldSize}) is not available: ${missing}`);
    if (device !== 'cpu') {
      const s = native.dataParallelSupport(false);
      if (!s.nccl)
        throw new DataParallelSetupError(
          `data-parallel training on ${device} needs NCCL, which this addon was built without: ${s.ncclMissing} (docs/distributed.md)`,
        );
    }
    const group = await native.createProcessGroup({
      rank: env.rank,
      worldSize: env.worldSize,
      masterAddr: env.masterAddr,
      masterPort: env.masterPort,
      timeoutSeconds,
      device,
    });
    return new DataParallel(group, env);
  }

  /** Rejects on every rank when any rank's values differ (the number of values must be fixed by the code). */
  async checkSame(what: string, values: number[]): Promise<void> {
    await this.group.checkSame(Float64Array.from(values), what);
  }

  /** True on every rank when any rank's flag is true (e.g. a Ctrl-C that reached one rank), after checking that all are at the same step. */
  async anyAtStep(flag: boolean, step: number, microBatches: number): Promise<boolean> {
    const r = await this.group.allReduce(Float64Array.from([flag ? 1 : 0, step, -step, microBatches, -microBatches]), 'max');
    if (r[1] !== -r[2]! || r[3] !== -r[4]!) {
      throw new Error(
        `rank ${this.rank}: the ranks are out of step (this rank is at step ${step}, micro-batch ${microBatches}; the ranks range over steps ${-r[2]!}..${r[1]}); every rank must run the same settings`,
      );
    }
    return r[0]! > 0;
  }

  /** Sums `values` over the ranks. */
  async sum(values: Float64Array): Promise<Float64Array> {
    return this.group.allReduce(values, 'sum');
  }

  /** True on every rank when it is true on every rank. */
  async all(flag: boolean): Promise<boolean> {
    const r = await this.group.allReduce(Float64Array.from([flag ? 0 : 1]), 'max');
    return r[0] === 0;
  }

  /**
   * The global metrics of each micro-batch from every rank's local ones: pair-weighted means,
   * except the `summed` counts. Equal to what one process computes on the whole micro-batch for
   * per-pair means (DPO's rewards, margins, loss); for token-mean terms (SFT's and ORPO's NLL) it
   * is the pair-weighted mean of the ranks' token means, as under PyTorch DDP.
   */
  async reduceMetrics(
    locals: LocalMetrics[],
    summed: readonly string[],
    extra: number[] = [],
  ): Promise<{ metrics: Record<string, number>[]; extra: number[] }> {
    // Layout per micro-batch: [pairs, loss, the other names sorted]. 'loss' comes first so that a
    // rank which has had no pairs yet (and so knows no names) still reads the global loss, which
    // every rank needs to make the same non-finite decision; rank 0 always holds the first pairs
    // of a micro-batch, so it knows every name.
    const seen = locals.find((l) => l.values !== undefined)?.values;
    if (seen)
      this.knownKeys = [
        'loss',
        ...Object.keys(seen)
          .filter((key) => key !== 'loss')
          .sort(),
      ];
    const header = await this.group.allReduce(Float64Array.from([this.knownKeys?.length ?? 0]), 'max');
    const k = header[0]!;
    if (this.knownKeys && this.knownKeys.length !== k) {
      throw new Error(
        `rank ${this.rank}: the ranks report different metrics (${this.knownKeys.length} here, ${k} elsewhere); every rank must run the same loss`,
      );
    }
    const keys = this.knownKeys ?? ['loss', ...Array.from({ length: Math.max(0, k - 1) }, (_, i) => `?${i}`)];
    const width = 1 + k;
    const buf = new Float64Array(locals.length * width + extra.length);
    locals.forEach((l, j) => {
      buf[j * width] = l.pairs;
      if (!l.values) return;
      keys.forEach((key, i) => {
        const v = l.values![key] ?? 0;
        buf[j * width + 1 + i] = summed.includes(key) ? v : v * l.pairs;
      });
    });
    buf.set(extra, locals.length * width);
    const r = await this.group.allReduce(buf, 'sum');
    const metrics = locals.map((_, j) => {
      const pairs = r[j * width]!;
      const out: Record<string, number> = {};
      keys.forEach((key, i) => {
        const v = r[j * width + 1 + i]!;
        out[key] = summed.includes(key) ? v : v / pairs;
      });
      return out;
    });
    return { metrics, extra: Array.from(r.subarray(locals.length * width)) };
  }
}

/** LibTorch threads per rank when several ranks share a machine and --threads was not given. */
export function threadsPerRank(env: RankEnv): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.floor(cores / env.localWorldSize));
}
