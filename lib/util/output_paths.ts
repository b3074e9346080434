// An output must never be one of the command's inputs: `logprobs --data D --out D` would replace
// the data with scores, `merge-lora --out BASE` the base model. Paths are compared as the file
// system sees them (symlinks resolved, hard links by device and inode), not as they are spelled.
import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';

/**
 * The real path of `p`: symlinks resolved all the way. A path that does not exist yet is its
 * nearest existing ancestor's real path plus the rest, as it will be once created.
 */
export function realPathOf(p: string): string {
  const rest: string[] = [];
  let cur = path.resolve(p);
  for (;;) {
    try {
      return path.join(realpathSync(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return path.join(cur, ...rest.reverse());
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** Whether two paths name the same file or directory (after links; hard links included). */
export function samePath(a: string, b: string): boolean {
  if (realPathOf(a) === realPathOf(b)) return true;
  if (!existsSync(a) || !existsSync(b)) return false;
  const sa = statSync(a);
  const sb = statSync(b);
  return sa.dev === sb.dev && sa.ino === sb.ino;
}

/** Whether `inner` is `outer` or lies somewhere below it (real paths). */
export function isInside(inner: string, outer: string): boolean {
  const rel = path.relative(realPathOf(outer), realPathOf(inner));
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

export interface NamedPath {
  /** The flag (or argument) that named it: "--data", "<file>". */
  flag: string;
  path: string | undefined;
}

/**
 * Refuses (UsageError) an output that is one of the inputs; with `replacesWhole` (an output
 * directory that is replaced as a whole) also one that holds an input. Inputs that are not local
 * paths (hub ids, openai: URLs) are skipped: the caller leaves them undefined, or they do not exist.
 */
export function assertOutputNotInput(output: NamedPath, inputs: readonly NamedPath[], opts: { replacesWhole?: boolean } = {}): void {
  if (output.path === undefined) return;
  for (const input of inputs) {
    if (input.path === undefined || !existsSync(input.path)) continue;
    if (samePath(output.path, input.path)) {
      throw new UsageError(
        `${output.flag} ${output.path} is ${input.flag} ${input.path} (the same file after links); writing it would destroy the input. Choose another ${output.flag}.`,
      );
    }
    if (opts.replacesWhole && isInside(input.path, output.path)) {
      throw new UsageError(
        `${output.flag} ${output.path} holds ${input.flag} ${input.path}; writing it could destroy the input. Choose another ${output.flag}.`,
      );
    }
  }
}
