// The one list of settings a resume may change (run_directory.ts RESUMABLE_SETTINGS): each is left
// out of the trajectory digest, `--resume` takes it, and every other setting is kept from config.json
// with a warning naming what was ignored.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveTrainConfig } from '../lib/train/config.js';
import { type RESUMABLE_SETTINGS, resolveRun, trajectoryDigest } from '../lib/train/run_directory.js';

const saved = { model: 'some/model-dir', data: 'pairs.jsonl', loss: 'dpo', lr: 1e-3, refCache: true, maxSteps: 4 };

test('a resume takes refCache and the other resumable settings, and keeps the rest from config.json', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-resume-settings-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ config: saved }));
  writeFileSync(path.join(dir, 'metrics.jsonl'), '');
  const warnings: string[] = [];
  const run = resolveRun({ resume: dir, refCache: false, maxSteps: 6, lr: 5e-2 } as never, (m) => warnings.push(m));
  t.is(run.runDir, dir);
  t.false(run.config.refCache);
  t.is(run.config.maxSteps, 6);
  t.is(run.config.lr, 1e-3, 'lr changes the trajectory: kept');
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /ignoring lr \(only maxSteps, evalEvery, saveEvery, threads, refCache, onNonfinite, zero, reportTo may change\)/);
  t.is(run.resumeFrom, undefined, 'no checkpoint yet');
});

test('the trajectory digest ignores exactly the resumable settings and the run location', (t) => {
  const base = resolveTrainConfig({ ...saved, out: 'a' });
  const digest = trajectoryDigest(base);
  const changed: Record<(typeof RESUMABLE_SETTINGS)[number], unknown> = {
    maxSteps: 9,
    evalEvery: 3,
    saveEvery: 2,
    threads: 1,
    refCache: false,
    onNonfinite: 'skip-step',
    zero: 1,
    reportTo: 'tensorboard',
  };
  for (const [key, value] of Object.entries(changed)) t.is(trajectoryDigest({ ...base, [key]: value }), digest, key);
  t.is(trajectoryDigest({ ...base, out: 'b', resume: 'b' }), digest, 'out, resume');
  t.not(trajectoryDigest({ ...base, lr: 2e-3 }), digest, 'lr');
  t.not(trajectoryDigest({ ...base, seed: base.seed + 1 }), digest, 'seed');
});
