// `--data` (and `data`'s FILE) accept a hub dataset, `org/name[@revision][:split]` (hub/resolve_dataset.ts):
// it becomes the split's files in the Hugging Face cache, read as one set under the name given.
import type { DataFiles } from '../data/load.js';
import { isHubDatasetSpec } from '../hub/dataset_spec.js';
import { HubDownloadError } from '../hub/download_model.js';
import { resolveDataset } from '../hub/resolve_dataset.js';
import { UsageError } from '../errors.js';

export async function dataSource(spec: string): Promise<string | DataFiles> {
  if (!isHubDatasetSpec(spec)) return spec;
  try {
    const resolved = await resolveDataset(spec);
    return { label: spec, files: resolved.files };
  } catch (err) {
    if (err instanceof HubDownloadError) throw new UsageError(err.message);
    throw err;
  }
}
