// `--data org/name[@revision][:split]`: a dataset repository on the Hugging Face hub. A spec shaped
// like a data file (`dir/pairs.jsonl`, `x/y.parquet`) is never a hub id, so a mistyped local path
// keeps its "no such file" error; an existing path always wins.
import { existsSync } from 'node:fs';

export interface HubDatasetSpec {
  /** "org/name" */
  repo: string;
  /** A branch, tag or commit; "main" when not given. */
  revision: string;
  /** The split asked for (`:test`); undefined means the default, train. */
  split: string | undefined;
}

const PART = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const SPEC = new RegExp(`^(${PART}/${PART})(?:@([^\\s@:]+))?(?::([A-Za-z0-9][A-Za-z0-9._-]*))?$`);
const DATA_FILE = /\.(jsonl|ndjson|json|parquet|gz)$/i;

export function parseHubDatasetSpec(spec: string): HubDatasetSpec | null {
  const m = SPEC.exec(spec);
  if (!m || m[1]!.includes('--') || m[1]!.includes('..') || DATA_FILE.test(m[1]!)) return null;
  return { repo: m[1]!, revision: m[2] ?? 'main', split: m[3] };
}

/** Whether `--data spec` names a hub dataset (no such local path, and shaped org/name[@rev][:split]). */
export function isHubDatasetSpec(spec: string): boolean {
  return !existsSync(spec) && parseHubDatasetSpec(spec) !== null;
}
