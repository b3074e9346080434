// Download a model's files from the Hugging Face hub into the shared cache (hf_cache.ts layout) with
// @huggingface/hub: modelInfo gives the revision's commit, listFiles the files at that commit,
// fileDownloadInfo/downloadFile each file's etag and bytes (including Xet-stored files). The cache
// entries are written here rather than by the library's downloadFileToCacheDir, which names a
// snapshot after each file's last commit and writes no refs/, so Python's huggingface_hub would not
// find them; here they go under the revision's commit, with refs/<revision>, as huggingface_hub does.
// Only what loading needs is fetched: config, tokenizer and generation files and the safetensors
// weights. The token comes from HF_TOKEN and is only ever sent as an Authorization header.
import { createWriteStream, existsSync, lstatSync, mkdirSync, renameSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import path from 'node:path';
import type { ListFileEntry } from '@huggingface/hub';
import { COMMIT_HASH, repoCacheDir, type HubModelId } from './hf_cache.js';

export class HubDownloadError extends Error {
  override name = 'HubDownloadError';
}

const MODEL_FILES = new Set([
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'model.safetensors.index.json',
]);

/** Top-level files a model directory needs (weights as safetensors). */
export function modelFilesToFetch(paths: readonly string[]): string[] {
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
}

export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
}

/** huggingface_hub's etag normalisation: drop a weak-validator prefix and the quotes. */
export const normalizeEtag = (etag: string) => etag.replace(/^W\//, '').replace(/^"|"$/g, '');

function explain(err: unknown, id: HubModelId, endpoint: string, token: string | undefined): HubDownloadError {
  const e = err as { statusCode?: number; message?: string; cause?: { code?: string } };
  const what = `${id.repo}@${id.revision}`;
  if (e.statusCode === 401 || e.statusCode === 403) {
    return new HubDownloadError(
      `${what}: the hub at ${endpoint} refused access (HTTP ${e.statusCode}); the model may be gated or private: ` +
        (token ? 'the token in HF_TOKEN has no access to it (accept its licence on the model page)' : 'set HF_TOKEN to a token that has access'),
    );
  }
  if (e.statusCode === 404) return new HubDownloadError(`${what}: not found on ${endpoint} (check the name and the revision)`);
  const msg = e.message ?? String(err);
  // Never echo a token, whatever a lower layer put in its message.
  return new HubDownloadError(`${what}: download from ${endpoint} failed: ${token ? msg.split(token).join('***') : msg}${e.cause?.code ? ` (${e.cause.code})` : ''}`);
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
  const endpoint = opts.endpoint ?? hubEndpoint();
  const token = opts.token ?? (process.env.HF_TOKEN || undefined);
  const cred = { hubUrl: endpoint, ...(token ? { accessToken: token } : {}) };
  const storage = repoCacheDir(opts.cacheDir, id.repo);
  // Loaded on first download only: every CLI start would otherwise pay for it.
  const { downloadFile, fileDownloadInfo, listFiles, modelInfo } = await import('@huggingface/hub');
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
  const wanted = modelFilesToFetch(entries.map((e) => e.path));
  if (!wanted.includes('config.json')) throw new HubDownloadError(`${id.repo}@${id.revision}: no config.json in the repository; it is not a transformers model`);
  if (!wanted.some((p) => p.endsWith('.safetensors'))) {
    throw new HubDownloadError(`${id.repo}@${id.revision}: the repository has no .safetensors weights (only ${entries.map((e) => e.path).filter((p) => /\.(bin|pt|gguf)$/.test(p)).join(', ') || 'other files'}); convert them to safetensors, or import a GGUF with import-gguf`);
  }
  const snapshot = path.join(storage, 'snapshots', commit);
  const sizes = new Map(entries.map((e) => [e.path, e.lfs?.size ?? e.size]));
  // huggingface_hub names a blob by the file's sha256 (LFS/Xet files) or its git blob id: the
  // listing has both, whichever host the bytes are redirected to later.
  const etags = new Map(entries.map((e) => [e.path, e.lfs?.oid ?? e.oid]));
  const total = wanted.reduce((a, p) => a + (existsSync(path.join(snapshot, p)) ? 0 : (sizes.get(p) ?? 0)), 0);
  let done = 0;
  opts.onBytes?.(0, total, '');
  for (const file of wanted) {
    const pointer = path.join(snapshot, file);
    if (existsSync(pointer)) continue;
    try {
      const info = await fileDownloadInfo({ repo: id.repo, path: file, revision: commit, ...cred });
      if (!info) throw new HubDownloadError(`${id.repo}@${commit}: ${file} is listed but the hub does not serve it`);
      const etag = etags.get(file) ?? normalizeEtag(info.etag);
      const blob = path.join(storage, 'blobs', etag);
      if (!existsSync(blob)) {
        mkdirSync(path.dirname(blob), { recursive: true });
        const data = await downloadFile({ repo: id.repo, path: file, revision: commit, downloadInfo: info, ...cred });
        if (!data) throw new HubDownloadError(`${id.repo}@${commit}: ${file} is listed but the hub does not serve it`);
        // Our own partial file: another process (or huggingface_hub's `<blob>.incomplete`) may be
        // fetching the same blob; whichever rename lands first, the content is the same.
        const incomplete = `${blob}.${process.pid}.incomplete`;
        const count = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            done += chunk.length;
            opts.onBytes?.(done, total, file);
            cb(null, chunk);
          },
        });
        await pipeline(Readable.fromWeb(data.stream() as unknown as NodeWebReadableStream), count, createWriteStream(incomplete));
        if (lstatSync(incomplete).size !== info.size) {
          rmSync(incomplete, { force: true });
          throw new HubDownloadError(`${id.repo}@${commit}: ${file} arrived incomplete; run the command again`);
        }
        renameSync(incomplete, blob);
      } else {
        done += sizes.get(file) ?? 0;
        opts.onBytes?.(done, total, file);
      }
      linkOrCopy(blob, pointer);
    } catch (err) {
      throw err instanceof HubDownloadError ? err : explain(err, id, endpoint, token);
    }
  }
  if (id.revision !== commit) {
    const ref = path.join(storage, 'refs', id.revision);
    mkdirSync(path.dirname(ref), { recursive: true });
    const tmp = `${ref}.${process.pid}.tmp`;
    writeFileSync(tmp, commit);
    renameSync(tmp, ref);
  }
  return snapshot;
}
