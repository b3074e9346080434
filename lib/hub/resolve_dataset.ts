// `--data org/name[@revision][:split]`: a hub dataset's split as local files. It resolves offline from
// the Hugging Face cache (datasets--org--name/snapshots/<commit>/…, as Python's huggingface_hub and
// `datasets` write it), or downloads the split's files (and README.md, which may name them) into
// that same layout with @huggingface/hub. The split's files are chosen by dataset_splits.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ListFileEntry } from '@huggingface/hub';
import { parseHubDatasetSpec, type HubDatasetSpec } from './dataset_spec.js';
import { DATA_FILE, splitFiles, type SplitFiles } from './dataset_splits.js';
import { explain, fetchIntoCache, hubEndpoint, HubDownloadError } from './download_model.js';
import { cachedCommit, COMMIT_HASH, hubCacheDir, repoCacheDir } from './hf_cache.js';
import { hubOffline, type ResolveModelOptions } from './resolve_model.js';

export interface ResolvedDataset {
  /** As given, e.g. `trl-lib/ultrafeedback_binarized@main:train`. */
  spec: string;
  repo: string;
  revision: string;
  commit: string;
  split: string;
  /** The split's data files, absolute, in shard order. */
  files: string[];
}

/** Every file under a snapshot, as repository paths (links followed; dangling ones left out). */
function snapshotPaths(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (!existsSync(full)) continue;
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(full).isDirectory()) out.push(...snapshotPaths(full, rel));
    else out.push(rel);
  }
  return out;
}

function readable(id: HubDatasetSpec, split: string, chosen: SplitFiles, where: string): string[] {
  const files = chosen.files.filter((f) => DATA_FILE.test(f));
  if (files.length > 0) return files;
  const what = `${id.repo}@${id.revision}:${split}`;
  if (chosen.files.length > 0) {
    throw new HubDownloadError(
      `${what}: the split's files (${chosen.files.slice(0, 3).join(', ')}) are not Parquet or JSON(L), which is what this package reads`,
    );
  }
  throw new HubDownloadError(
    `${what}: no files for split '${split}' ${where} (by ${chosen.rule}); ` +
      (chosen.splits.length ? `the splits there: ${chosen.splits.join(', ')}` : 'no data files at all'),
  );
}

/** Every shard of each `…-0000i-of-0000n…` series is there (a download cut short leaves some out). */
function shardsComplete(files: readonly string[]): boolean {
  const series = new Map<string, Set<number>>();
  for (const f of files) {
    const m = /^(.*)-(\d+)-of-(\d+)(\.[^/]*)$/.exec(f);
    if (m) series.set(`${m[1]}|${m[3]}|${m[4]}`, (series.get(`${m[1]}|${m[3]}|${m[4]}`) ?? new Set()).add(Number(m[2])));
  }
  return [...series].every(([key, got]) => got.size === Number(key.split('|')[1]));
}

/** The split's files from the cache, or null when the revision or the split's files are not cached. */
function fromCache(cacheDir: string, id: HubDatasetSpec, split: string): ResolvedDataset | null {
  const commit = cachedCommit(cacheDir, id, 'dataset');
  if (!commit) return null;
  const dir = path.join(repoCacheDir(cacheDir, id.repo, 'dataset'), 'snapshots', commit);
  if (!existsSync(dir)) return null;
  const readme = existsSync(path.join(dir, 'README.md')) ? readFileSync(path.join(dir, 'README.md'), 'utf8') : undefined;
  const chosen = splitFiles(snapshotPaths(dir), split, readme);
  if (!chosen.files.some((f) => DATA_FILE.test(f)) || !shardsComplete(chosen.files)) return null;
  const files = readable(id, split, chosen, 'in the cache');
  return { spec: '', repo: id.repo, revision: id.revision, commit, split, files: files.map((f) => path.join(dir, f)) };
}

export async function resolveDataset(spec: string, opts: Omit<ResolveModelOptions, 'files'> = {}): Promise<ResolvedDataset> {
  const id = parseHubDatasetSpec(spec);
  if (!id) throw new HubDownloadError(`${spec}: not a hub dataset id (org/name[@revision][:split])`);
  const split = id.split ?? 'train';
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  const cached = fromCache(cacheDir, id, split);
  if (cached) return { ...cached, spec };
  if (opts.offline ?? hubOffline()) {
    throw new HubDownloadError(
      `${spec}: no such local file, and split '${split}' is not in the Hugging Face cache at ${repoCacheDir(cacheDir, id.repo, 'dataset')} (revision ${id.revision}); ` +
        `HF_HUB_OFFLINE is set, so nothing is downloaded: unset it, or fetch it with \`huggingface-cli download --repo-type dataset ${id.repo}\``,
    );
  }
  const endpoint = opts.endpoint ?? hubEndpoint();
  const token = process.env.HF_TOKEN || undefined;
  const cred = { hubUrl: endpoint, ...(token ? { accessToken: token } : {}) };
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const { datasetInfo, listFiles } = await import('@huggingface/hub');
  let commit: string;
  const entries: ListFileEntry[] = [];
  try {
    const info = await datasetInfo({ name: id.repo, revision: id.revision, additionalFields: ['sha'], ...cred });
    commit = String((info as { sha?: unknown }).sha ?? '');
    if (!COMMIT_HASH.test(commit)) throw new HubDownloadError(`${id.repo}@${id.revision}: the hub at ${endpoint} gave no commit hash for the revision`);
    for await (const e of listFiles({ repo: { type: 'dataset', name: id.repo }, revision: commit, recursive: true, ...cred }))
      if (e.type === 'file') entries.push(e);
  } catch (err) {
    throw err instanceof HubDownloadError ? err : explain(err, id, endpoint, token, 'dataset');
  }
  const fetch = (wanted: string[]) => fetchIntoCache({ type: 'dataset', id, commit, entries, wanted, cacheDir, endpoint, token });
  // README.md first: its `configs:` may say which files hold which split.
  const hasReadme = entries.some((e) => e.path === 'README.md');
  const snapshot = hasReadme ? await fetch(['README.md']) : path.join(repoCacheDir(cacheDir, id.repo, 'dataset'), 'snapshots', commit);
  const readme = hasReadme ? readFileSync(path.join(snapshot, 'README.md'), 'utf8') : undefined;
  const files = readable(
    id,
    split,
    splitFiles(
      entries.map((e) => e.path),
      split,
      readme,
    ),
    `in the repository at ${endpoint}`,
  );
  const bytes = files.reduce((a, f) => a + (entries.find((e) => e.path === f)?.lfs?.size ?? entries.find((e) => e.path === f)?.size ?? 0), 0);
  log(`${spec}: downloading ${files.length} file${files.length === 1 ? '' : 's'} (${(bytes / 2 ** 20).toFixed(1)} MB) from ${endpoint} into ${cacheDir}`);
  await fetch(files);
  return { spec, repo: id.repo, revision: id.revision, commit, split, files: files.map((f) => path.join(snapshot, f)) };
}
