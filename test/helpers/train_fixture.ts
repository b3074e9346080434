// Shared inputs of the trainer tests: the tiny-chat policy (a full model directory with a
// tokenizer and chat template), its perturbed copy as an explicit reference model, and eight
// plain-text preference pairs with short rationales, written as JSONL into a temporary directory.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MetricsRow } from '../../lib/train/metrics.js';
import { repoRoot } from './cli.js';

export const policyDir = path.join(repoRoot, 'test', 'fixtures', 'models', 'tiny-chat');
export const refDir = path.join(repoRoot, 'test', 'fixtures', 'models', 'tiny-chat-ref');

export interface Pair {
  prompt: string;
  chosen: string;
  rejected: string;
  rationale?: string;
}

/** The TRL parity pairs (test/fixtures/trl_parity.json), each with a one-line rationale. */
export function trainPairs(): Pair[] {
  const fixture = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'trl_parity.json'), 'utf8')) as { pairs: Pair[] };
  return fixture.pairs.map((p, i) => ({
    ...p,
    rationale:
      i % 2 === 0 ? 'The response above answers the prompt directly and correctly.' : 'The response above is accurate and concise; the one below is not.',
  }));
}

export interface TrainSandbox {
  dir: string;
  /** pairs with rationales */
  data: string;
  /** the same pairs without rationales */
  dataNoRationale: string;
  cleanup: () => void;
}

/** A temporary directory with the data files; sets RDPO_CACHE_DIR inside it so no test writes ~/.cache. */
export function trainSandbox(prefix: string): TrainSandbox {
  const dir = mkdtempSync(path.join(os.tmpdir(), `rdpo-${prefix}-`));
  const pairs = trainPairs();
  const data = path.join(dir, 'pairs.jsonl');
  writeFileSync(data, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const dataNoRationale = path.join(dir, 'pairs-no-rationale.jsonl');
  writeFileSync(dataNoRationale, pairs.map(({ rationale: _r, ...p }) => JSON.stringify(p)).join('\n') + '\n');
  process.env.RDPO_CACHE_DIR = path.join(dir, 'cache');
  return { dir, data, dataNoRationale, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every row of a run's metrics.jsonl, strictly: a missing file or a line that is not JSON fails the test. */
export function readMetricsRows(runDir: string): MetricsRow[] {
  return readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as MetricsRow);
}
