// The standalone C++ driver links the same core and runs without Node.js.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers/cli.js';

const driver = path.join(repoRoot, 'build', 'rdpo-driver');

test('rdpo-driver smoke trains a tiny problem on the CPU', (t) => {
  t.true(existsSync(driver), `${driver} is built by npm install`);
  const res = spawnSync(driver, ['smoke', 'cpu'], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: '' } });
  t.is(res.status, 0, res.stderr);
  t.regex(res.stdout, /smoke OK/);
});

test('rdpo-driver info reports the torch version', (t) => {
  const res = spawnSync(driver, ['info'], { encoding: 'utf8' });
  t.is(res.status, 0, res.stderr);
  t.regex(res.stdout, /^torch 2\.\d+/m);
});

test('rdpo-driver rejects an unknown command with usage', (t) => {
  const res = spawnSync(driver, ['no-such-command'], { encoding: 'utf8' });
  t.is(res.status, 2);
  t.regex(res.stderr, /usage: rdpo-driver/);
});
