// Download a model's files from the Hugging Face hub into the shared cache (hf_cache.ts layout) with
// @huggingface/hub: modelInfo gives the revision's commit, listFiles the files at that commit,
// fileDownloadInfo/downloadFile each file's etag and bytes (including Xet-stored files). The cache
// entries are written here rather than by the library's downloadFileToCacheDir, which names a
// snapshot after each file's last commit and writes no refs/, so Python's huggingface_hub would not
// find them; here they go under the revision's commit, with refs/<revision>, as huggingface_hub does.
// Only what loading needs is fetched: config, tokenizer and generation files and the safetensors
// weights (only the tokenizer's files with `files: 'tokenizer'`). Dataset repositories use the same
// file fetcher (resolve_dataset.ts). The token comes from HF_TOKEN and is only ever sent as an
// Authorization header. Every name the server gives (blob oids, the revision) is checked before it
// becomes a path, every path stays inside the cache, and every file's bytes are hashed while they
// stream and checked against the name they are stored under, before the rename.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, lstatSync, mkdirSync, renameSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import path from 'node:path';
import type { ListFileEntry } from '@huggingface/hub';
import { COMMIT_HASH, repoCacheDir, type HubModelId, type RepoType } from './hf_cache.js';
import { HubDownloadError, HubNameError } from './errors.js';
import { assertRevision, GIT_OID_HEX, isBlobName, pathInside, SHA256_HEX } from './hub_names.js';
import { removeAbandonedTemporaries } from '../util/abandoned_temporaries.js';

export { HubDownloadError, HubNameError };

const MODEL_FILES = new Set([
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'model.safetensors.index.json',
]);

const TOKENIZER_FILES = new Set(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja']);

/** Top-level files a model directory needs (weights as safetensors), or only its tokenizer's. */
export function modelFilesToFetch(paths: readonly string[], files: 'model' | 'tokenizer' = 'model'): string[] {
  if (files === 'tokenizer') return paths.filter((p) => TOKENIZER_FILES.has(p));
  return paths.filter((p) => !p.includes('/') && (MODEL_FILES.has(p) || p.endsWith('.safetensors')));
}

export interface DownloadProgress {
  /** Called as bytes arrive; `file` is the path inside the repository. */
  onBytes?: (done: number, total: number, file: string) => void;
}

export interface DownloadModelOptions extends DownloadProgress {
  cacheDir: string;
  /** The hub's address; HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** HF_TOKEN unless given. */
  token?: string;
  /** 'tokenizer': only the tokenizer's files (and config.json), never the weights. */
  files?: 'model' | 'tokenizer';
}

export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
}

/** huggingface_hub's etag normalisation: drop a weak-validator prefix and the quotes. */
export const normalizeEtag = (etag: string) => etag.replace(/^W\//, '').replace(/^"|"$/g, '');

export function explain(err: unknown, id: HubModelId, endpoint: string, token: string | undefined, type: RepoType = 'model'): HubDownloadError {
  const e = err as { statusCode?: number; message?: string; cause?: { code?: string } };
  const what = `${id.repo}@${id.revision}`;
  if (e.statusCode === 401 || e.statusCode === 403) {
    return new HubDownloadError(
      `${what}: the hub at ${endpoint} refused access (HTTP ${e.statusCode}); the ${type} may be gated or private: ` +
        (token ? `the token in HF_TOKEN has no access to it (accept its licence on the ${type} page)` : 'set HF_TOKEN to a token that has access'),
    );
  }
  if (e.statusCode === 404) return new HubDownloadError(`${what}: not found on ${endpoint} (check the name and the revision)`);
  const msg = e.message ?? String(err);
  // Never echo a token, whatever a lower layer put in its message.
  return new HubDownloadError(
    `${what}: download from ${endpoint} failed: ${token ? msg.split(token).join('***') : msg}${e.cause?.code ? ` (${e.cause.code})` : ''}`,
  );
}

/**
 * The hash a blob's name promises, fed as the bytes stream past: a 64-digit name is the file's
 * sha256 (LFS/Xet), a 40-digit one its git blob id, sha1("blob <size>\0" + bytes).
 */
function blobHasher(name: string, size: number): { update(chunk: Buffer): void; digest(): string; kind: string } {
  if (SHA256_HEX.test(name)) {
    const h = createHash('sha256');
    return { update: (c) => h.update(c), digest: () => h.digest('hex'), kind: 'sha256' };
  }
  if (GIT_OID_HEX.test(name)) {
    const h = createHash('sha1').update(`blob ${size}\0`);
    return { update: (c) => h.update(c), digest: () => h.digest('hex'), kind: 'git blob sha1' };
  }
  throw new HubNameError(`blob name "${name}" is neither a sha256 nor a git blob id`);
}

/** The blob name the listing gives a file: its LFS sha256, else its git blob id; refused unless it is one. */
function listedBlobName(entry: ListFileEntry | undefined, what: string): string | undefined {
  if (!entry) return undefined;
  const name = entry.lfs ? entry.lfs.oid : entry.oid;
  const ok = entry.lfs ? SHA256_HEX.test(String(name)) : GIT_OID_HEX.test(String(name));
  if (!ok) {
    throw new HubNameError(
      `${what}: the hub lists ${entry.path} with ${entry.lfs ? 'an LFS oid' : 'an oid'} "${String(name).slice(0, 80)}" that is not ${entry.lfs ? 'a sha256 (64 hex digits)' : 'a git blob id (40 hex digits)'}; refused`,
    );
  }
  return name;
}

function linkOrCopy(blob: string, pointer: string): void {
  mkdirSync(path.dirname(pointer), { recursive: true });
  rmSync(pointer, { force: true });
  try {
    symlinkSync(path.relative(path.dirname(pointer), blob), pointer);
  } catch {
    copyFileSync(blob, pointer);
  }
}

/** Downloads what is missing from the cache and returns the snapshot directory. */
export async function downloadModel(id: HubModelId, opts: DownloadModelOptions): Promise<string> {
  assertRevision(id.revision, id.repo);
  const endpoint = opts.endpoint ?? hubEndpoint();
  const token = opts.token ?? (process.env.HF_TOKEN || undefined);
  const cred = { hubUrl: endpoint, ...(token ? { accessToken: token } : {}) };
  // Loaded on first download only: every CLI start would otherwise pay for it.
  const { listFiles, modelInfo } = await import('@huggingface/hub');
  let commit: string;
  let entries: ListFileEntry[];
  try {
    const info = await modelInfo({ name: id.repo, revision: id.revision, additionalFields: ['sha'], ...cred });
    commit = String((info as { sha?: unknown }).sha ?? '');
    if (!COMMIT_HASH.test(commit)) throw new HubDownloadError(`${id.repo}@${id.revision}: the hub at ${endpoint} gave no commit hash for the revision`);
    entries = [];
    for await (const e of listFiles({ repo: id.repo, revision: commit, ...cred })) if (e.type === 'file') entries.push(e);
  } catch (err) {
    throw err instanceof HubDownloadError ? err : explain(err, id, endpoint, token);
  }
  const bad = entries.find((e) => typeof e.path !== 'string' || e.path.includes('\0'));
  if (bad) throw new HubNameError(`${id.repo}@${commit}: the hub lists a file whose name is not a path; refused`);
  const files = opts.files ?? 'model';
  const wanted = modelFilesToFetch(
    entries.map((e) => e.path),
    files,
  );
  if (files === 'tokenizer') {
    if (!wanted.includes('tokenizer.json')) throw new HubDownloadError(`${id.repo}@${id.revision}: no tokenizer.json in the repository`);
  } else {
    if (!wanted.includes('config.json'))
      throw new HubDownloadError(`${id.repo}@${id.revision}: no config.json in the repository; it is not a transformers model`);
    if (!wanted.some((p) => p.endsWith('.safetensors'))) {
      throw new HubDownloadError(
        `${id.repo}@${id.revision}: the repository has no .safetensors weights (only ${
          entries
            .map((e) => e.path)
            .filter((p) => /\.(bin|pt|gguf)$/.test(p))
            .join(', ') || 'other files'
        }); convert them to safetensors, or import a GGUF with import-gguf`,
      );
    }
  }
  return fetchIntoCache({
    type: 'model',
    id,
    commit,
    entries,
    wanted,
    cacheDir: opts.cacheDir,
    endpoint,
    token,
    ...(opts.onBytes ? { onBytes: opts.onBytes } : {}),
  });
}

export interface FetchIntoCache extends DownloadProgress {
  type: RepoType;
  id: HubModelId;
  /** The commit the revision resolved to. */
  commit: string;
  /** The repository's listing at that commit. */
  entries: readonly ListFileEntry[];
  /** The paths to fetch (those already in the snapshot are kept). */
  wanted: readonly string[];
  cacheDir: string;
  endpoint: string;
  token: string | undefined;
}

/** What fetching each file of one repository reads, and the bytes done so far. */
interface FetchState {
  o: FetchIntoCache;
  hub: Pick<typeof import('@huggingface/hub'), 'downloadFile' | 'fileDownloadInfo'>;
  cred: { hubUrl: string; accessToken?: string };
  repo: { type: RepoType; name: string };
  storage: string;
  sizes: ReadonlyMap<string, number>;
  /** The blob name the listing gives each wanted file. */
  etags: ReadonlyMap<string, string | undefined>;
  progress: { done: number; total: number };
}

/**
 * Fetches `wanted` into blobs/ with snapshots/<commit>/ links and refs/<revision>, as huggingface_hub
 * lays out its cache, and returns the snapshot directory.
 */
export async function fetchIntoCache(o: FetchIntoCache): Promise<string> {
  const { id, commit } = o;
  assertRevision(id.revision, id.repo);
  const storage = repoCacheDir(o.cacheDir, id.repo, o.type);
  // Partial blobs and refs of downloads that were killed (huggingface_hub's own, without a pid, are its to judge).
  removeAbandonedTemporaries(path.join(storage, 'blobs'), /^[0-9a-f]{40,64}\.(\d+)\.incomplete$/);
  removeAbandonedTemporaries(path.join(storage, 'refs'), /^.+\.(\d+)\.tmp$/);
  const { downloadFile, fileDownloadInfo } = await import('@huggingface/hub');
  // Every path below is checked to stay inside the repository's cache directory.
  const snapshot = pathInside(storage, 'snapshots', commit);
  const sizes = new Map(o.entries.map((e) => [e.path, e.lfs?.size ?? e.size]));
  // huggingface_hub names a blob by the file's sha256 (LFS/Xet files) or its git blob id: the
  // listing has both, whichever host the bytes are redirected to later. The name is also the
  // hash the bytes are checked against before they are stored under it.
  const byPath = new Map(o.entries.map((e) => [e.path, e]));
  const etags = new Map(o.wanted.map((p) => [p, listedBlobName(byPath.get(p), `${id.repo}@${commit}`)]));
  const total = o.wanted.reduce((a, p) => a + (existsSync(pathInside(snapshot, p)) ? 0 : (sizes.get(p) ?? 0)), 0);
  const s: FetchState = {
    o,
    hub: { downloadFile, fileDownloadInfo },
    cred: { hubUrl: o.endpoint, ...(o.token ? { accessToken: o.token } : {}) },
    repo: { type: o.type, name: id.repo },
    storage,
    sizes,
    etags,
    progress: { done: 0, total },
  };
  o.onBytes?.(0, total, '');
  for (const file of o.wanted) {
    const pointer = pathInside(snapshot, file);
    if (existsSync(pointer)) continue;
    try {
      await fetchFile(s, file, pointer);
    } catch (err) {
      throw err instanceof HubDownloadError ? err : explain(err, id, o.endpoint, o.token, o.type);
    }
  }
  if (id.revision !== commit) writeRef(storage, id.revision, commit);
  return snapshot;
}

/** One file: its blob (downloaded unless the cache has it) and the snapshot's link to it. */
async function fetchFile(s: FetchState, file: string, pointer: string): Promise<void> {
  const { o, hub, cred, repo } = s;
  const { id, commit } = o;
  const info = await hub.fileDownloadInfo({ repo, path: file, revision: commit, ...cred });
  if (!info) throw new HubDownloadError(`${id.repo}@${commit}: ${file} is listed but the hub does not serve it`);
  const etag = s.etags.get(file) ?? normalizeEtag(info.etag);
  if (!isBlobName(etag))
    throw new HubNameError(`${id.repo}@${commit}: the hub names ${file}'s blob "${etag.slice(0, 80)}", which is neither a sha256 nor a git blob id; refused`);
  const blob = pathInside(s.storage, 'blobs', etag);
  if (!existsSync(blob)) {
    mkdirSync(path.dirname(blob), { recursive: true });
    const data = await hub.downloadFile({ repo, path: file, revision: commit, downloadInfo: info, ...cred });
    if (!data) throw new HubDownloadError(`${id.repo}@${commit}: ${file} is listed but the hub does not serve it`);
    await storeBlob(s, file, data, blob, etag, info.size);
  } else {
    s.progress.done += s.sizes.get(file) ?? 0;
    o.onBytes?.(s.progress.done, s.progress.total, file);
  }
  linkOrCopy(blob, pointer);
}

/**
 * Streams `data` into `blob`: hashed and counted as it arrives, then renamed into place only when
 * its size is the listed and served one and its hash is the blob's name.
 */
async function storeBlob(s: FetchState, file: string, data: Blob, blob: string, etag: string, servedSize: number): Promise<void> {
  const { o } = s;
  const { id, commit } = o;
  // Our own partial file: another process (or huggingface_hub's `<blob>.incomplete`) may be
  // fetching the same blob; whichever rename lands first, the content is the same.
  const incomplete = `${blob}.${process.pid}.incomplete`;
  const expectedSize = s.sizes.get(file) ?? servedSize;
  const hash = blobHasher(etag, expectedSize);
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      s.progress.done += chunk.length;
      o.onBytes?.(s.progress.done, s.progress.total, file);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(data.stream() as unknown as NodeWebReadableStream), count, createWriteStream(incomplete));
  } catch (err) {
    rmSync(incomplete, { force: true });
    throw err;
  }
  const got = lstatSync(incomplete).size;
  if (got !== servedSize || got !== expectedSize) {
    rmSync(incomplete, { force: true });
    throw new HubDownloadError(`${id.repo}@${commit}: ${file} arrived incomplete (${got} of ${expectedSize} bytes); run the command again`);
  }
  // Checked before the rename: offline runs trust whatever lies under the blob's name.
  const digest = hash.digest();
  if (digest !== etag) {
    rmSync(incomplete, { force: true });
    throw new HubNameError(
      `${id.repo}@${commit}: ${file} arrived with ${hash.kind} ${digest}, not the ${etag} the hub lists for it; nothing was stored. ` +
        'The download was corrupted or the server is not serving this repository; run the command again or check HF_ENDPOINT',
    );
  }
  renameSync(incomplete, blob);
}

/** refs/<revision> → the commit, written atomically. */
function writeRef(storage: string, revision: string, commit: string): void {
  const ref = pathInside(path.join(storage, 'refs'), revision);
  mkdirSync(path.dirname(ref), { recursive: true });
  const tmp = `${ref}.${process.pid}.tmp`;
  writeFileSync(tmp, commit);
  renameSync(tmp, ref);
}
