// Config-file keys are turned from snake/kebab case to camelCase; a key that is no such name
// (`__proto__`, `_x`) is reported as written, never prettified into another name.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, readConfigFile, resolveTrainConfig } from '../lib/train/config.js';

function configError(t: { teardown(fn: () => void): void }, yaml: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'run.yaml');
  writeFileSync(file, yaml);
  try {
    resolveTrainConfig(readConfigFile(file), file);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return '';
}

test('a __proto__ key is reported as __proto__, not as _Proto__', (t) => {
  const msg = configError(t, 'model: m\ndata: d.jsonl\n__proto__:\n  lr: 1\n');
  t.regex(msg, /unknown key\(s\) '__proto__'/);
  t.notRegex(msg, /_Proto__/);
});

test('snake_case and kebab-case keys still become camelCase; odd keys stay as written', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'run.yaml');
  writeFileSync(file, 'batch_size: 2\nmax-steps: 3\n_private: 1\n');
  const out = readConfigFile(file);
  t.deepEqual(Object.keys(out), ['batchSize', 'maxSteps', '_private']);
  t.is(Object.getPrototypeOf(out), Object.prototype);
});
