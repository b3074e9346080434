// A directory this package writes as a whole (a training run, an imported or merged model) carries
// a small marker file naming what wrote it. Only such a directory, or an empty one, is ever
// replaced or reused: a directory of the user's that happens to be named as an output is refused.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';

export const OUTPUT_MARKER = '.rdpo-native.json';

/** run: a training run directory; model: a model directory written whole (import-gguf, merge-lora). */
export type OutputKind = 'run' | 'model';

export function writeOutputMarker(dir: string, kind: OutputKind, writer: string): void {
  writeFileSync(path.join(dir, OUTPUT_MARKER), JSON.stringify({ kind, writer, createdAt: new Date().toISOString() }) + '\n');
}

/** The kind the directory's marker names, or undefined (no marker, or not one of ours). */
export function outputMarkerKind(dir: string): OutputKind | undefined {
  try {
    const m = JSON.parse(readFileSync(path.join(dir, OUTPUT_MARKER), 'utf8')) as { kind?: unknown };
    return m.kind === 'run' || m.kind === 'model' ? m.kind : undefined;
  } catch {
    return undefined;
  }
}

export function isEmptyDir(dir: string): boolean {
  return readdirSync(dir).length === 0;
}

/**
 * Refuses (UsageError) to replace `dir` unless it does not exist, is empty, or `ours(dir)` says this
 * package wrote it. `flag` and `what` name it in the message ("--out", "model directory").
 */
export function assertReplaceableDir(dir: string, flag: string, what: string, ours: (dir: string) => boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UsageError(`${flag} ${dir} is a file, not a directory; choose another ${flag}`);
  if (isEmptyDir(dir) || ours(dir)) return;
  throw new UsageError(
    `${flag} ${dir} is not empty and is not a ${what} this tool wrote (no ${OUTPUT_MARKER} in it); it is left as it is. ` +
      `Choose a new or empty ${flag}, or remove the directory yourself.`,
  );
}
