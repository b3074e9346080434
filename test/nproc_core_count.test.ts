// `train --nproc N` against this machine's cores: up to the core count says nothing, above it warns,
// above 4× refuses unless --force-nproc (64 ranks on 2 cores would start without a word).
import test from 'ava';
import os from 'node:os';
import { rankCountVerdict } from '../lib/train/launcher.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';

test.before(() => ensureDist());

test('ranks up to the core count pass silently; above warn; far above are refused unless forced', (t) => {
  t.deepEqual(rankCountVerdict(2, 2), {});
  t.deepEqual(rankCountVerdict(1, 1), {});
  const warn = rankCountVerdict(3, 2);
  t.regex(warn.warning ?? '', /--nproc 3 starts more ranks than this machine's 2 CPU cores/);
  t.is(warn.refusal, undefined);
  t.deepEqual(Object.keys(rankCountVerdict(8, 2)), ['warning']);
  const refused = rankCountVerdict(64, 2);
  t.regex(refused.refusal ?? '', /--nproc 64 is more than 4× this machine's 2 CPU cores; .*--force-nproc/);
  const forced = rankCountVerdict(64, 2, true);
  t.is(forced.refusal, undefined);
  t.regex(forced.warning ?? '', /--nproc 64/);
});

test('train --nproc far above the cores is refused before any rank starts', async (t) => {
  const n = os.availableParallelism() * 4 + 1;
  const r = await runCli(['train', '--nproc', String(n), '--model', 'no-such-model', '--data', 'no-such.jsonl', '--out', 'no-such-run'], { timeoutMs: 60_000 });
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, new RegExp(`--nproc ${n} is more than 4×`));
  t.notRegex(r.stderr, /\[rank /);
});
