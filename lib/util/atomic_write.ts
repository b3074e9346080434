// Files that are either wholly there or not at all: write to a temp file beside the target,
// fsync, rename over it. Directories: build under a temp name, then rename into place.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { atomicTemporaryPattern, removeAbandonedTemporaries } from './abandoned_temporaries.js';

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true });
  removeAbandonedTemporaries(path.dirname(file), atomicTemporaryPattern(file));
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems do not allow fsync on directories; the rename is still atomic.
  }
}

/**
 * Builds a directory atomically: `build(tmpDir)` fills a temp sibling, which then replaces
 * `dir` (an existing `dir` is moved aside first and removed after the swap).
 */
export async function writeDirAtomic(dir: string, build: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = path.dirname(dir);
  mkdirSync(parent, { recursive: true });
  // What a killed earlier write to `dir` left (a whole model's weights, perhaps) goes first.
  removeAbandonedTemporaries(parent, atomicTemporaryPattern(dir));
  const tmp = path.join(parent, `.${path.basename(dir)}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    await build(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const old = path.join(parent, `.${path.basename(dir)}.${process.pid}.old`);
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  fsyncDir(parent);
  rmSync(old, { recursive: true, force: true });
}
