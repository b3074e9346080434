// `rdpo-native bench` option checking, through the built CLI as a user runs it.
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './helpers/cli.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-cli-'));
writeFileSync(path.join(dir, 'config.json'), '{}');
const data = path.join(dir, 'pairs.jsonl');
writeFileSync(data, JSON.stringify({ prompt: 'p', chosen: 'a', rejected: 'b' }) + '\n');

const cases: Array<[string, string[], RegExp]> = [
  ['a model directory without config.json', ['--model', os.tmpdir(), '--data', data], /--model .*no config\.json there/],
  ['a missing data file', ['--model', dir, '--data', path.join(dir, 'nope.jsonl')], /--data .*nope\.jsonl: no such file/],
  ['an unknown dtype', ['--model', dir, '--data', data, '--dtype', 'float16'], /--dtype must be one of float32, bfloat16, got "float16"/],
  ['an unknown loss', ['--model', dir, '--data', data, '--loss', 'ipo'], /--loss must be one of dpo, rdpo/],
  ['zero timed steps', ['--model', dir, '--data', data, '--steps', '0'], /--steps must be a whole number ≥ 1/],
  ['a bad device', ['--model', dir, '--data', data, '--device', 'gpu'], /--device must be cpu, cuda, cuda:N or mps/],
];

for (const [what, args, message] of cases) {
  test(`bench refuses ${what} with a usage error`, async (t) => {
    const r = await runCli(['bench', ...args]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
  });
}
