// The Hugging Face hub cache as Python's huggingface_hub lays it out, so both share one copy:
//   <cache>/models--<org>--<name>/
//     blobs/<etag>                      file contents (etag: sha256 for LFS files, git blob sha1 else)
//     refs/<revision>                   the commit a branch/tag resolved to ("main" → 40 hex digits)
//     snapshots/<commit>/<path>         relative symlinks into ../../blobs (or copies where symlinks fail)
// <cache> is HF_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub (huggingface_hub's constants.py order; HUGGINGFACE_HUB_CACHE is the old name).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { assertRevision, pathInside } from './hub_names.js';

export const COMMIT_HASH = /^[0-9a-f]{40}$/;

export interface HubModelId {
  /** "org/name" */
  repo: string;
  /** A branch, tag or commit; "main" when not given. */
  revision: string;
}

// Hub repo names: letters, digits, "-", "_", "."; no "--" or ".." and not starting/ending with "-"/".".
const PART = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const HUB_ID = new RegExp(`^(${PART}/${PART})(?:@([^\\s@]+))?$`);

/** `org/name` or `org/name@revision` → the parts; null for anything else (a path, a bare name). */
export function parseHubModelId(spec: string): HubModelId | null {
  const m = HUB_ID.exec(spec);
  if (!m || m[1]!.includes('--') || m[1]!.includes('..')) return null;
  return { repo: m[1]!, revision: m[2] ?? 'main' };
}

/** A leading "~" is the home directory, as huggingface_hub expands it. */
const expandHome = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(homedir(), p.slice(1)) : p);

export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return expandHome(env.HF_HUB_CACHE);
  if (env.HUGGINGFACE_HUB_CACHE) return expandHome(env.HUGGINGFACE_HUB_CACHE);
  if (env.HF_HOME) return path.join(expandHome(env.HF_HOME), 'hub');
  return path.join(expandHome(env.XDG_CACHE_HOME || path.join(homedir(), '.cache')), 'huggingface', 'hub');
}

/** Model and dataset repositories live side by side: models--org--name/, datasets--org--name/. */
export type RepoType = 'model' | 'dataset';

export function repoCacheDir(cacheDir: string, repo: string, type: RepoType = 'model'): string {
  return path.join(cacheDir, `${type}s--${repo.split('/').join('--')}`);
}

/**
 * The commit a revision points to in the cache (the revision itself when it is a commit hash), or
 * null. A revision that is not a ref name (`..`, a leading "/", …) is refused (HubNameError).
 */
export function cachedCommit(cacheDir: string, id: HubModelId, type: RepoType = 'model'): string | null {
  if (COMMIT_HASH.test(id.revision)) return id.revision;
  assertRevision(id.revision, id.repo);
  const ref = pathInside(path.join(repoCacheDir(cacheDir, id.repo, type), 'refs'), id.revision);
  if (!existsSync(ref)) return null;
  const commit = readFileSync(ref, 'utf8').trim();
  return COMMIT_HASH.test(commit) ? commit : null;
}

/** The cached snapshot of a model with its tokenizer.json (all a tokenizer-only command needs), or null. */
export function cachedTokenizerSnapshot(cacheDir: string, id: HubModelId): string | null {
  const commit = cachedCommit(cacheDir, id);
  if (!commit) return null;
  const dir = path.join(repoCacheDir(cacheDir, id.repo), 'snapshots', commit);
  return existsSync(path.join(dir, 'tokenizer.json')) ? dir : null;
}

/**
 * The cached snapshot directory of a model, when it holds what loading a model needs: config.json
 * and the safetensors weights (every shard of model.safetensors.index.json). Null otherwise.
 */
export function cachedModelSnapshot(cacheDir: string, id: HubModelId): string | null {
  const commit = cachedCommit(cacheDir, id);
  if (!commit) return null;
  const dir = path.join(repoCacheDir(cacheDir, id.repo), 'snapshots', commit);
  // existsSync follows symlinks: a dangling link (blob removed) counts as missing.
  if (!existsSync(path.join(dir, 'config.json'))) return null;
  const index = path.join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    let shards: string[];
    try {
      shards = [...new Set(Object.values((JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map))];
    } catch {
      return null;
    }
    return shards.every((s) => existsSync(path.join(dir, s))) ? dir : null;
  }
  return existsSync(path.join(dir, 'model.safetensors')) ? dir : null;
}
