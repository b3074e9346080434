// Where a run writes: `train --out DIR` takes DIR only when it is new, empty, or a run of ours (its
// marker, or metrics.jsonl + config.json as runs wrote before the marker existed), never the model's
// own directory. A run already trained there is refused unless --overwrite. While a run trains,
// its directory is locked (pid + host) so a second run on it fails at once instead of
// interleaving metrics rows and checkpoints.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { lockDir, type DirLock } from '../util/dir_lock.js';
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
