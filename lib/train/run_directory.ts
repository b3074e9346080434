// Where a run writes: `train --out DIR` takes DIR only when it is new, empty, or a run of ours (its
// marker, or metrics.jsonl + config.json as runs wrote before the marker existed), never the model's
// own directory. A run already trained there is refused unless --overwrite. While a run trains,
// its directory is locked (pid + host) so a second run on it fails at once instead of
// interleaving metrics rows and checkpoints. A run is resolved here too: a new one from its settings,
// a resumed one from its config.json (with the few settings a resume may change), and config.json
// is written here.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { isHubModelSpec } from '../hub/resolve_model.js';
import { cachedModelSnapshot, hubCacheDir, parseHubModelId } from '../hub/hf_cache.js';
import { packageVersion } from '../native/runtime.js';
import { resolvePromptFormat } from '../tokenize/prompt_format.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { writeFileAtomic } from '../util/atomic_write.js';
import { lockDir, type DirLock } from '../util/dir_lock.js';
import { latestCheckpoint } from './checkpoint.js';
import { resolveTrainConfig, type TrainConfig, type TrainConfigInput } from './config.js';
import { dataIdentityChange, type DataIdentity } from './data_identity.js';
import { assertReplaceableDir, outputMarkerKind, OUTPUT_MARKER, writeOutputMarker } from '../util/output_marker.js';
import { isInside, samePath } from '../util/output_paths.js';
import { UsageError } from '../errors.js';

export const RUN_LOCK = '.rdpo-run.lock';

/** A run directory this package wrote: its marker, or the config.json (with `config`) and metrics.jsonl every run writes. */
export function isRunDirectory(dir: string): boolean {
  if (outputMarkerKind(dir) === 'run') return true;
  if (!existsSync(path.join(dir, 'metrics.jsonl'))) return false;
  try {
    const c = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { config?: unknown };
    return c.config !== null && typeof c.config === 'object';
  } catch {
    return false;
  }
}

/** What a run writes; --overwrite removes these and nothing else. */
const RUN_ENTRIES = ['metrics.jsonl', 'config.json', 'checkpoints', 'final', 'data_identity.json'];

export interface RunDirectoryInputs {
  /** Local paths the run reads (model, reference, data, adapter), by flag. */
  inputs: { flag: string; path: string | undefined }[];
  overwrite?: boolean;
}

/**
 * Checks `runDir` for a new run (UsageError when it is not ours, is an input, or holds a run and
 * --overwrite is not given); with --overwrite clears the run's own entries. Writes nothing else.
 */
export function checkNewRunDirectory(runDir: string, opts: RunDirectoryInputs): void {
  for (const input of opts.inputs) {
    if (input.path === undefined || !existsSync(input.path)) continue;
    if (samePath(runDir, input.path) || isInside(input.path, runDir)) {
      throw new UsageError(
        `--out ${runDir} ${samePath(runDir, input.path) ? 'is' : 'holds'} ${input.flag} ${input.path}; a run would write over it. Choose another --out.`,
      );
    }
  }
  // A lock file is ours too (a run starting or training there): taking the lock then names its holder.
  assertReplaceableDir(runDir, '--out', 'run directory', (d) => isRunDirectory(d) || existsSync(path.join(d, RUN_LOCK)));
  const metrics = path.join(runDir, 'metrics.jsonl');
  const trained = (existsSync(metrics) && statSync(metrics).size > 0) || existsSync(path.join(runDir, 'checkpoints')) || existsSync(path.join(runDir, 'final'));
  if (!trained) return;
  if (!opts.overwrite) {
    throw new UsageError(
      `${runDir} already holds a run (metrics.jsonl). Continue it with --resume ${runDir}, start it again with --overwrite, or choose another --out.`,
    );
  }
}

/** --overwrite: the run's own files go; anything else the user put there stays. */
export function clearRun(runDir: string): void {
  for (const name of RUN_ENTRIES) rmSync(path.join(runDir, name), { recursive: true, force: true });
}

/** Creates the run directory with its marker (when new) and locks it for this process. */
export function openRunDirectory(runDir: string): DirLock {
  mkdirSync(runDir, { recursive: true });
  if (!existsSync(path.join(runDir, OUTPUT_MARKER))) writeOutputMarker(runDir, 'run', 'train');
  return lockDir(runDir, RUN_LOCK, `run directory ${runDir}`);
}

/**
 * The settings that do not change which updates a run makes, its trajectory. The one list of them:
 * they are left out of the trajectory digest (a checkpoint written under other values still resumes
 * exactly) and so they are the only settings `--resume` may change; any other is kept from config.json.
 * zero: how the ranks share the optimizer, not which updates they make (tested bit-identical on 2 ranks).
 * refCache: whether reference log-probs are read from the cache, which holds the same values.
 */
export const RESUMABLE_SETTINGS = ['maxSteps', 'evalEvery', 'saveEvery', 'threads', 'refCache', 'onNonfinite', 'zero', 'reportTo'] as const;
/** Where the run is: given anew by every start, and no part of its trajectory either. */
const RUN_LOCATION = ['out', 'resume'] as const;

/** JSON with object keys sorted, so that equal settings give equal text whatever their order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * The digest a checkpoint records of the settings that define the trajectory. Keys are sorted: a
 * resumed run rebuilds its config from config.json, whose key order differs from the one the first
 * run's schema output had (the per-loss defaults are appended there).
 */
export function trajectoryDigest(config: TrainConfig): string {
  const rest: Record<string, unknown> = { ...config };
  for (const key of [...RUN_LOCATION, ...RESUMABLE_SETTINGS]) delete rest[key];
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 16);
}

/** A run to start or continue: its resolved settings, its directory, and the checkpoint it resumes from. */
export interface ResolvedRun {
  config: TrainConfig;
  runDir: string;
  resumeFrom?: string;
}

function defaultRunDir(c: TrainConfig): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  return path.resolve('runs', `${stamp}-${c.loss}`);
}

/** A new run from its settings; `--resume DIR` from DIR/config.json and its latest checkpoint. */
export function resolveRun(input: TrainConfigInput & { resume?: string }, log: (m: string) => void): ResolvedRun {
  if (input.resume) return resolveResumedRun(input, log);
  const config = resolveTrainConfig(input as Record<string, unknown>);
  const runDir = config.out ? path.resolve(config.out) : defaultRunDir(config);
  return { config: { ...config, out: runDir }, runDir };
}

function resolveResumedRun(input: TrainConfigInput & { resume?: string }, log: (m: string) => void): ResolvedRun {
  const runDir = path.resolve(input.resume!);
  const file = path.join(runDir, 'config.json');
  if (!existsSync(file)) throw new Error(`--resume ${runDir}: no config.json there (is it a run directory?)`);
  let saved: TrainConfigInput | undefined;
  try {
    saved = (JSON.parse(readFileSync(file, 'utf8')) as { config?: TrainConfigInput } | null)?.config;
  } catch (err) {
    throw new Error(`--resume ${runDir}: ${file} is not JSON (${(err as Error).message}); is it a run directory?`);
  }
  if (saved === null || typeof saved !== 'object' || !isRunDirectory(runDir)) {
    throw new Error(`--resume ${runDir}: not a run directory (${file} has no "config" object, or there is no metrics.jsonl); start a new run with --out`);
  }
  const overrides: Partial<TrainConfigInput> = {};
  for (const k of RESUMABLE_SETTINGS) {
    if (input[k] !== undefined) (overrides as Record<string, unknown>)[k] = input[k];
  }
  // A run is prompted in one format for its whole life: another would change every token it scores.
  const savedFormat = (saved as { promptFormat?: string }).promptFormat;
  if (input.promptFormat !== undefined && input.promptFormat !== 'auto' && savedFormat !== undefined && input.promptFormat !== savedFormat) {
    throw new Error(
      `--resume ${runDir}: the run was trained with prompt format ${savedFormat} (config.json); it cannot continue with ${input.promptFormat}. ` +
        `Drop --prompt-format, or start a new run with --out.`,
    );
  }
  const kept = [...RESUMABLE_SETTINGS, ...RUN_LOCATION] as readonly string[];
  const ignored = Object.keys(input).filter((k) => !kept.includes(k) && input[k as keyof typeof input] !== undefined);
  if (ignored.length > 0) {
    log(`warning: --resume keeps the run's recorded settings; ignoring ${ignored.join(', ')} (only ${RESUMABLE_SETTINGS.join(', ')} may change)`);
  }
  const config = resolveTrainConfig({ ...saved, ...overrides, out: runDir, resume: runDir }, `${file}`);
  const from = latestCheckpoint(runDir, (m) => log(`warning: ${m}`));
  return { config, runDir, ...(from ? { resumeFrom: from } : {}) };
}

/**
 * The resolved configuration a run with these settings would record as config.json's `config`,
 * without training (`train --print-config`): preset and per-loss defaults filled in, the run
 * directory and, when the model's tokenizer can be read, the prompt format resolved.
 */
export function resolvedRunConfig(input: TrainConfigInput): TrainConfig {
  const config = resolveTrainConfig(input as Record<string, unknown>);
  const out = { ...config, out: config.out ? path.resolve(config.out) : defaultRunDir(config) };
  // A hub id is read from the cache when it is there (never downloaded just to print).
  const hubId = isHubModelSpec(config.model) ? parseHubModelId(config.model) : null;
  const modelDir = hubId ? (cachedModelSnapshot(hubCacheDir(), hubId) ?? config.model) : config.model;
  if (out.promptFormat === 'auto' && existsSync(path.join(modelDir, 'tokenizer.json'))) {
    out.promptFormat = resolvePromptFormat(Tokenizer.load(modelDir), 'auto');
  }
  return out;
}

/**
 * Rank 0's hold on the run directory from the start to the end of a run: a new run's directory is
 * checked (not an input, not another run unless --overwrite), then it is created, marked and locked
 * (a second run on it fails at once, naming this pid), and --overwrite clears the earlier run's files.
 */
export function claimRunDirectory(run: ResolvedRun, opts: { overwrite?: boolean; log: (m: string) => void }): DirLock {
  const { config, runDir } = run;
  if (!config.resume) {
    const local = (p: string | undefined) => (p !== undefined && !isHubModelSpec(p) ? p : undefined);
    checkNewRunDirectory(runDir, {
      inputs: [
        { flag: '--model', path: local(config.model) },
        { flag: '--ref-model', path: local(config.refModel) },
        { flag: '--data', path: config.data },
        { flag: '--adapter', path: config.adapter },
      ],
      ...(opts.overwrite ? { overwrite: opts.overwrite } : {}),
    });
  }
  const lock = openRunDirectory(runDir);
  if (opts.overwrite && !config.resume) {
    try {
      clearRun(runDir);
    } catch (err) {
      lock.release();
      throw err;
    }
    opts.log(`--overwrite: removed the earlier run's files from ${runDir}`);
  }
  return lock;
}

/** --resume: refuses data other than the run recorded (config.json's data.identity), unless accepted. */
export function checkResumedData(runDir: string, now: DataIdentity, accept: boolean, log: (m: string) => void): void {
  const file = path.join(runDir, 'config.json');
  const saved = (JSON.parse(readFileSync(file, 'utf8')) as { data?: { identity?: DataIdentity } }).data?.identity;
  if (!saved) return; // a run from before identities were recorded
  const change = dataIdentityChange(saved, now);
  if (!change) return;
  if (accept) {
    log(`warning: --resume ${runDir}: the data changed since the run started (${change}); continuing on it (--accept-data-change), so the resume is not exact`);
    return;
  }
  throw new Error(
    `--resume ${runDir}: the data changed since the run started: ${change} (${file} records what it was). ` +
      'An exact resume needs the same data: restore the file, or pass --accept-data-change to continue on the new data.',
  );
}

/** config.json: the resolved settings, the versions, what the data was, and the run's shape. */
export function writeRunConfig(
  runDir: string,
  record: {
    config: TrainConfig;
    torchVersion: string;
    data: Record<string, unknown>;
    totalSteps: number;
    dataParallel?: { worldSize: number; backend: string };
  },
): void {
  const { config, torchVersion, data, totalSteps, dataParallel } = record;
  const json = {
    config,
    versions: { rdpoNative: packageVersion(), torch: torchVersion, node: process.version },
    data,
    totalSteps,
    ...(dataParallel ? { dataParallel } : {}),
    createdAt: new Date().toISOString(),
  };
  writeFileAtomic(path.join(runDir, 'config.json'), JSON.stringify(json, null, 2) + '\n');
}
