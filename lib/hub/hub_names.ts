// Every name a hub server (or a `--model org/name@REV`) hands us becomes part of a path in the
// cache, so none is trusted: blob names must be the hashes they claim to be (64 hex digits for
// an LFS/Xet file's sha256, 40 for a git blob id), revisions must be git ref names or commits,
// and every path built from them must resolve inside the repository's cache directory.
import path from 'node:path';
import { HubNameError } from './errors.js';

export { HubNameError };

export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const GIT_OID_HEX = /^[0-9a-f]{40}$/;

/** A blob name: a sha256 (LFS) or a git blob sha1, lower-case hex of the right length. */
export function isBlobName(name: string): boolean {
  return SHA256_HEX.test(name) || GIT_OID_HEX.test(name);
}

/**
 * Why `rev` is not a revision that may name a file under refs/, or undefined when it is one:
 * git's ref-name rules (check-ref-format) that matter for a path: no "..", no empty, "." or
 * ".."-led component, no "/" at either end or doubled, no NUL, control character, backslash,
 * space or one of ~^:?*[ , and not ending in ".lock".
 */
export function revisionDefect(rev: string): string | undefined {
  if (rev.length === 0) return 'it is empty';
  if (rev.length > 255) return 'it is longer than 255 characters';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(rev)) return 'it holds a control character, a space or one of ~^:?*[\\';
  if (rev.includes('..')) return 'it holds ".."';
  if (rev.startsWith('/') || rev.endsWith('/')) return 'it starts or ends with "/"';
  if (rev.includes('//')) return 'it holds "//"';
  if (rev.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'))) return 'a part of it starts with "." or ends with ".lock"';
  if (rev.includes('@{')) return 'it holds "@{"';
  return undefined;
}

export function assertRevision(rev: string, what: string): void {
  const defect = revisionDefect(rev);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are masked before the revision is printed
  if (defect) throw new HubNameError(`${what}: revision "${rev.replace(/[\x00-\x1f\x7f]/g, '?')}" is not a branch, tag or commit (${defect})`);
}

/**
 * `path.join(root, ...parts)`, refused unless the result lies strictly inside `root` (a name of
 * "..", an absolute part or a NUL would otherwise point outside the cache).
 */
export function pathInside(root: string, ...parts: string[]): string {
  const base = path.resolve(root);
  if (parts.some((p) => p.includes('\0'))) throw new HubNameError(`a name under ${base} holds a NUL byte`);
  const full = path.resolve(base, ...parts);
  const rel = path.relative(base, full);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new HubNameError(`"${parts.join('/')}" would lie outside ${base}; refused`);
  }
  return full;
}
