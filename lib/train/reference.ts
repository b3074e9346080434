// Reference log-probs of every training pair, computed once before training (the reference
// model then leaves memory) and cached on disk, keyed by the reference weights, the tokenized
// data and the compute settings, so later runs on the same data reuse them.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CausalLM } from '../model/causal_lm.js';
import { loadNative } from '../native/load.js';
import { writeFileAtomic } from '../util/atomic_write.js';
import { packPreferenceBatch, type PreferenceExample } from './preference_batch.js';

export interface ReferenceLogps {
  chosen: Float32Array;
  rejected: Float32Array;
  cached: boolean;
  seconds: number;
}

export function cacheDir(): string {
  return process.env.RDPO_CACHE_DIR || path.join(os.homedir(), '.cache', 'rdpo-native');
}

/** SHA-256 over the model directory's weight files (names, sizes, bytes). */
export async function weightsDigest(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of weightFiles(dir)) {
    h.update(`${f}\0${statSync(path.join(dir, f)).size}\0`);
    await new Promise<void>((resolve, reject) => {
      createReadStream(path.join(dir, f))
        .on('data', (chunk) => h.update(chunk))
        .on('end', () => resolve())
        .on('error', reject);
    });
  }
  return h.digest('hex');
}

function weightFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors') || f === 'config.json')
    .sort();
}

/**
 * weightsDigest, remembered in the cache directory under the files' identity (real path, device,
 * inode, size, modification time in nanoseconds): hashing a 7B model's 14 GB takes ~25 s on this
 * machine, once per model rather than once per run. Any rewrite of a file changes its mtime.
 */
async function rememberedWeightsDigest(dir: string): Promise<string> {
  const identity = createHash('sha256');
  for (const f of weightFiles(dir)) {
    const file = path.join(dir, f);
    const st = statSync(file, { bigint: true });
    identity.update(`${realpathSync(file)}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeNs}\0`);
  }
  const memo = path.join(cacheDir(), `weights-digest-${identity.digest('hex').slice(0, 32)}.txt`);
  if (existsSync(memo)) {
    const text = readFileSync(memo, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(text)) return text;
  }
  const digest = await weightsDigest(dir);
  mkdirSync(cacheDir(), { recursive: true });
  writeFileAtomic(memo, new TextEncoder().encode(digest + '\n'));
  return digest;
}

function examplesDigest(examples: readonly PreferenceExample[]): string {
  const h = createHash('sha256');
  for (const ex of examples) {
    h.update(Int32Array.from(ex.pair.promptIds));
    h.update('|');
    h.update(Int32Array.from(ex.pair.chosenIds));
    h.update('|');
    h.update(Int32Array.from(ex.pair.rejectedIds ?? []));
    h.update('\n');
  }
  return h.digest('hex');
}

/**
 * Data-parallel runs (lib/train/data_parallel.ts): rank r scores batches r, r+W, r+2W, ... (the
 * same batches one process scores, so the same values) and a sum over the ranks fills in the rest
 * (x + 0 is exact). Only rank 0 writes the cache, and it is read only when every rank has it.
 */
export interface ReferenceShard {
  rank: number;
  worldSize: number;
  sum(values: Float64Array): Promise<Float64Array>;
  all(flag: boolean): Promise<boolean>;
}

const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * The cached values, when the file has the size of `n` pairs, matches the sha256 stored beside it
 * and holds only finite log-probs; undefined otherwise (then they are recomputed and rewritten).
 * A same-size file of NaN or 1e30 would otherwise be trusted, and the NaN loss blamed on --lr.
 */
function readVerifiedCache(file: string, n: number, log?: (m: string) => void): Float32Array | undefined {
  if (!existsSync(file) || statSync(file).size !== 8 * n) return undefined;
  const buf = readFileSync(file);
  const sumFile = `${file}.sha256`;
  const expected = existsSync(sumFile) ? readFileSync(sumFile, 'utf8').trim() : undefined;
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const why =
    expected === undefined
      ? `it has no checksum (${path.basename(sumFile)})`
      : sha256Hex(buf) !== expected
        ? `its bytes do not match ${path.basename(sumFile)}`
        : all.some((v) => !Number.isFinite(v) || v > 1e-3)
          ? 'it holds values that are not log-probabilities (NaN, inf or > 0)'
          : undefined;
  if (why === undefined) return all;
  log?.(`warning: reference log-probs cache ${file} is not used: ${why}; recomputing`);
  return undefined;
}

export async function referenceLogps(
  refDir: string,
  examples: readonly PreferenceExample[],
  opts: {
    device: string;
    computeDtype: 'float32' | 'bfloat16';
    batchSize: number;
    logitsChunk: number;
    useCache: boolean;
    log?: (m: string) => void;
    shard?: ReferenceShard;
    /** The model of refDir, already loaded (a LoRA policy: scored with its adapters off); kept loaded. */
    model?: CausalLM;
  },
): Promise<ReferenceLogps> {
  const started = performance.now();
  // Without the cache there is nothing to key, so the weights are not hashed.
  const key = !opts.useCache
    ? ''
    : createHash('sha256')
        .update(
          JSON.stringify({
            v: 1,
            weights: await rememberedWeightsDigest(refDir),
            data: examplesDigest(examples),
            dtype: opts.computeDtype,
            device: opts.device.split(':')[0],
            // A base held in 16 bits (LoRA) computes norms and residuals in 16 bits: other values.
            ...(opts.model && opts.model.config.dtype !== 'float32' ? { weightsDtype: opts.model.config.dtype } : {}),
          }),
        )
        .digest('hex')
        .slice(0, 32);
  const file = path.join(cacheDir(), `ref-logps-${key}.f32`);
  const n = examples.length;
  const shard = opts.shard;
  const cached = opts.useCache ? readVerifiedCache(file, n, opts.log) : undefined;
  if (shard ? await shard.all(cached !== undefined) : cached !== undefined) {
    const all = cached!;
    opts.log?.(`reference log-probs: reused ${file}`);
    return { chosen: all.slice(0, n), rejected: all.slice(n), cached: true, seconds: (performance.now() - started) / 1000 };
  }
  const model = opts.model ?? (await CausalLM.load(refDir, { dtype: 'float32', device: opts.device }));
  const native = loadNative();
  const chosen = new Float32Array(n);
  const rejected = new Float32Array(n);
  try {
    for (let start = 0, b = 0; start < n; start += opts.batchSize, b++) {
      if (shard && b % shard.worldSize !== shard.rank) continue;
      const slice = examples.slice(start, start + opts.batchSize);
      const batch = packPreferenceBatch(slice, { rejected: true, rationale: false });
      const r = await native.referenceLogps(model.nativeHandle, batch, { computeDtype: opts.computeDtype, logitsChunk: opts.logitsChunk });
      chosen.set(r.chosen, start);
      rejected.set(r.rejected, start);
    }
  } finally {
    if (!opts.model) model.dispose();
  }
  if (shard) {
    const both = new Float64Array(2 * n);
    both.set(chosen, 0);
    both.set(rejected, n);
    const summed = await shard.sum(both);
    chosen.set(summed.subarray(0, n));
    rejected.set(summed.subarray(n));
  }
  if (opts.useCache && (!shard || shard.rank === 0)) {
    mkdirSync(cacheDir(), { recursive: true });
    const all = new Float32Array(2 * n);
    all.set(chosen, 0);
    all.set(rejected, n);
    const bytes = new Uint8Array(all.buffer);
    writeFileAtomic(file, bytes);
    // Written second: a cache without its checksum (a crash between the two) is recomputed.
    writeFileAtomic(`${file}.sha256`, sha256Hex(bytes) + '\n');
  }
  return { chosen, rejected, cached: false, seconds: (performance.now() - started) / 1000 };
}
