// `--model` (and every other option naming a model directory) accepts a local directory or a hub id,
// `org/name[@revision]`. A hub id resolves offline from the shared Hugging Face cache; when the
// snapshot is not there (or is incomplete) and HF_HUB_OFFLINE is not set, the model's files are
// downloaded into that cache first, with a progress bar on a terminal. An existing path always wins.
import { existsSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { cachedModelSnapshot, cachedTokenizerSnapshot, hubCacheDir, parseHubModelId, repoCacheDir } from './hf_cache.js';
import { downloadModel, hubEndpoint, HubDownloadError } from './download_model.js';
import { assertRevision } from './hub_names.js';

export interface ResolveModelOptions {
  /** Defaults to the environment's cache (hf_cache.ts). */
  cacheDir?: string;
  /** Never touch the network (default: HF_HUB_OFFLINE=1 or TRANSFORMERS_OFFLINE=1). */
  offline?: boolean;
  /** The hub's address (default HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** Progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** Where messages go (default stderr). */
  log?: (line: string) => void;
  /** 'tokenizer': a snapshot with tokenizer.json is enough, and only the tokenizer's files are fetched. */
  files?: 'model' | 'tokenizer';
}

const truthy = (v: string | undefined) => v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.toLowerCase());

/** HF_HUB_OFFLINE=1 (or TRANSFORMERS_OFFLINE=1): never touch the network. */
export const hubOffline = () => truthy(process.env.HF_HUB_OFFLINE) || truthy(process.env.TRANSFORMERS_OFFLINE);

/** Whether a spec would be read as a hub id (not an existing path, and shaped `org/name[@rev]`). */
export function isHubModelSpec(spec: string): boolean {
  return !existsSync(spec) && parseHubModelId(spec) !== null;
}

/** A model directory for `spec`: the path itself, or the hub id's snapshot in the cache. */
export async function resolveModel(spec: string, opts: ResolveModelOptions = {}): Promise<string> {
  if (existsSync(spec)) return spec;
  const id = parseHubModelId(spec);
  if (!id) return spec; // not a hub id: the loader's own "no such directory" error names it
  // Before the cache or the network: the revision names a file under refs/.
  assertRevision(id.revision, spec);
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  const files = opts.files ?? 'model';
  const inCache = (): string | null => (files === 'tokenizer' ? cachedTokenizerSnapshot(cacheDir, id) : cachedModelSnapshot(cacheDir, id));
  const cached = inCache();
  if (cached) return cached;
  const offline = opts.offline ?? hubOffline();
  if (offline) {
    throw new HubDownloadError(
      `${spec}: not a local directory, and not in the Hugging Face cache at ${repoCacheDir(cacheDir, id.repo)} (revision ${id.revision}); ` +
        'HF_HUB_OFFLINE is set, so nothing is downloaded: unset it, or fetch it with `huggingface-cli download ' +
        id.repo +
        '`',
    );
  }
  const endpoint = opts.endpoint ?? hubEndpoint();
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  log(`${spec}: downloading from ${endpoint} into ${cacheDir}`);
  const showBar = opts.progress ?? process.stderr.isTTY === true;
  const bar = showBar
    ? new cliProgress.SingleBar(
        { format: `${id.repo} {bar} {percentage}% | {value_mb}/{total_mb} MB | {file}`, hideCursor: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  let started = false;
  try {
    const dir = await downloadModel(id, {
      cacheDir,
      endpoint,
      files,
      onBytes: (done, total, file) => {
        if (!bar) return;
        if (!started) {
          bar.start(Math.max(total, 1), 0, { value_mb: mb(0), total_mb: mb(total), file });
          started = true;
        }
        bar.update(done, { value_mb: mb(done), total_mb: mb(total), file });
      },
    });
    if (!inCache()) throw new HubDownloadError(`${spec}: downloaded, but the snapshot at ${dir} is incomplete`);
    return dir;
  } finally {
    if (started) bar?.stop();
  }
}
