// `--data` (and `data`'s FILE) accept a hub dataset, `org/name[@revision][:split]` (hub/resolve_dataset.ts):
// it becomes the split's files in the Hugging Face cache, read as one set under the name given.
// A failed download is a HubDownloadError: exit_codes.ts shows it as a usage error.
import type { DataFiles } from '../data/load.js';
import { isHubDatasetSpec } from '../hub/dataset_spec.js';
import { resolveDataset } from '../hub/resolve_dataset.js';

export async function dataSource(spec: string): Promise<string | DataFiles> {
  if (!isHubDatasetSpec(spec)) return spec;
  const resolved = await resolveDataset(spec);
  return { label: spec, files: resolved.files };
}
