// The report stage of scripts/pandalm_curves.mjs on a tiny synthetic sweep written to disk: the
// per-run scores, the crossed-bootstrap cells and the paired contrasts (RDPO − DPO, RDPO − RDPO-null,
// each arm − start) come out of the files the runs stage leaves, with no model and no training.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'pandalm_curves.mjs');
const built = existsSync(path.join(ROOT, 'dist', 'eval', 'contrast_table.js'));

const writeJsonl = (file: string, rows: object[]) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
};

(built ? test : test.skip)('report stage: cells, contrasts and tables from a synthetic 3-seed sweep', (t) => {
  if (!built) t.log('dist/ is not built (run `npx tsc -p tsconfig.json`): the script imports the compiled package');
  const out = mkdtempSync(path.join(tmpdir(), 'pandalm-report-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const U = 20;
  const ids = Array.from({ length: U }, (_, i) => `p${i}`);
  mkdirSync(path.join(out, 'model'), { recursive: true });
  writeFileSync(path.join(out, 'model', 'config.json'), '{}');
  mkdirSync(path.join(out, 'data'), { recursive: true });
  writeFileSync(
    path.join(out, 'data', 'summary.json'),
    JSON.stringify({ rationaleSet: U, pairsWithHumanMajority: U, judgeAgrees: U, droppedTooLong: 0, heldout: U, trainPool: 0, genPrompts: 0 }),
  );
  // Chosen longer on the even pairs.
  const rows = ids.map((id, i) => ({ id, prompt: 'q', chosen: i % 2 === 0 ? 'long answer' : 'a', rejected: 'b', rationale: 'r' }));
  writeJsonl(path.join(out, 'data', 'heldout.jsonl'), rows);
  writeJsonl(path.join(out, 'data', 'heldout-scored.jsonl'), rows);
  // The start model prefers the rejected on every pair (log-prob accuracy 0).
  writeJsonl(
    path.join(out, 'eval', 'start', 'preference', 'preference_pairs.jsonl'),
    ids.map((id) => ({ id, policyChosen: -10, policyRejected: -9 })),
  );
  // DPO right on the first 15 of 20 pairs, RDPO on the first 10, RDPO-null identical to RDPO; size 8 only.
  const right: Record<string, number> = { dpo: 15, rdpo: 10, 'rdpo-null': 10 };
  for (const arm of Object.keys(right))
    for (const seed of [0, 1, 2]) {
      writeJsonl(
        path.join(out, 'eval', `${arm}-n8-s${seed}`, 'preference', 'preference_pairs.jsonl'),
        ids.map((id, i) => ({ id, policyChosen: -10 + (i < right[arm]! ? 1 + seed : -1), policyRejected: -9 })),
      );
    }
  const r = spawnSync(process.execPath, [SCRIPT, '--out', out, '--stage', 'report', '--sizes', '4,8', '--seeds', '0,1,2', '--bootstrap', '300'], {
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  const res = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
  t.is(res.runs.length, 9, 'size 4 has no scores and is left out');
  t.deepEqual(
    res.cells.map((c: { arm: string; mean: number }) => [c.arm, c.mean]),
    [
      ['dpo', 0.75],
      ['rdpo', 0.5],
      ['rdpo-null', 0.5],
    ],
  );
  const contrast = (name: string) => res.contrasts.find((c: { name: string }) => c.name === name);
  t.is(contrast('rdpo-dpo').mean, -0.25);
  t.deepEqual(contrast('rdpo-dpo').seeds, [0, 1, 2]);
  t.true(contrast('rdpo-rdpo_null').degenerate);
  t.false(contrast('rdpo-rdpo_null').excludesZero);
  t.is(contrast('dpo-start').mean, 0.25);
  t.is(res.start.logprobAccuracy, 0);
  t.is(res.start.rewardAccuracy, 0.5);
  const tables = readFileSync(path.join(out, 'tables.md'), 'utf8');
  t.regex(tables, /\| rdpo-rdpo_null \| 8 \| 0, 1, 2 \| \+0\.000 \| \[0\.000, 0\.000\] \| .* \| no \(zero width: nothing varied\) \|/);
  t.regex(tables, /\| DPO \| 8 \| 0 \| 0 \| 0\.750 \(15\/20\) \|/);
});
