// A killed process leaves its temporaries behind (`.NAME.PID.tmp` / `.old` from atomic writes,
// `BLOB.PID.incomplete` from hub downloads); the names carry the writer's pid so that whoever next
// writes to the same place can tell an abandoned one from one still being written.
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { processAlive } from './dir_lock.js';

/**
 * A temporary modified this recently is left alone even when its pid is not running here: the
 * directory may be shared with a writer on another machine, whose pids mean nothing here.
 */
export const ABANDONED_AFTER_MS = 60_000;

/**
 * Removes the entries of `dir` whose name matches `pattern` (whose first group is the writer's pid)
 * when that process is gone and the entry is older than ABANDONED_AFTER_MS; returns their paths.
 */
export function removeAbandonedTemporaries(dir: string, pattern: RegExp, now = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue;
    const p = path.join(dir, name);
    try {
      if (now - lstatSync(p).mtimeMs < ABANDONED_AFTER_MS) continue;
      rmSync(p, { recursive: true, force: true });
      removed.push(p);
    } catch {
      // Gone already, or not ours to remove: either way nothing to do.
    }
  }
  return removed;
}

/** The pattern of the temporaries util/atomic_write.ts makes for `target`: `.NAME.PID.tmp` and `.NAME.PID.old`. */
export function atomicTemporaryPattern(target: string): RegExp {
  const name = path.basename(target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\.${name}\\.(\\d+)\\.(?:tmp|old)$`);
}
