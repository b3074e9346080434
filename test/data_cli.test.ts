// `rdpo-native data` end to end: the compiled CLI run as a child process.
import test from 'ava';
import path from 'node:path';
import { ensureDist } from './helpers/ensure_dist.js';
import { repoRoot, runCli } from './helpers/cli.js';
import { fixture, sharedData, dataTest } from './helpers/data_paths.js';

const cli = (...args: string[]) => runCli(['data', ...args]);

test.before(() => ensureDist());

dataTest('llamafactory-dpo_en_demo.json')('--json prints one object with the counts', async (t) => {
  const { code, stdout } = await cli(sharedData('llamafactory-dpo_en_demo.json'), '--json');
  t.is(code, 0);
  const r = JSON.parse(stdout) as Record<string, unknown>;
  t.like(r, { ok: true, format: 'sharegpt', rows: 300, valid: 300, invalid: 0, duplicates: 5, withRationale: 0, pairs: 295 });
});

dataTest('hh-rlhf-harmless-base-test.jsonl.gz')('invalid rows fail the command (exit 1) with file:line reasons; --skip-invalid reports them', async (t) => {
  const file = sharedData('hh-rlhf-harmless-base-test.jsonl.gz');
  const failed = await cli(file);
  t.is(failed.code, 1);
  t.true(failed.stderr.includes(`${file}:87: the chosen response is empty`));
  t.regex(failed.stderr, /--skip-invalid/);

  const failedJson = await cli(file, '--json');
  t.is(failedJson.code, 1);
  t.like(JSON.parse(failedJson.stdout), { ok: false, rows: 2312, invalid: 13 });

  const skipped = await cli(file, '--skip-invalid', '--json');
  t.is(skipped.code, 0);
  t.like(JSON.parse(skipped.stdout), { ok: true, format: 'hh-rlhf', gzip: true, rows: 2312, valid: 2299, invalid: 13, duplicates: 0 });

  const text = await cli(file, '--skip-invalid');
  t.regex(text.stdout, /rows {8}2312: 2299 valid, 13 invalid \(skipped\)/);
  t.regex(text.stdout, /format {6}hh-rlhf \(detected\)/);
});

dataTest('pandalm-testset-v1.json', 'pandalm-gpt-3.5-turbo-testset-v1.json')('pandalm with --rationales-from counts the joined rationales', async (t) => {
  const { code, stdout } = await cli(
    sharedData('pandalm-testset-v1.json'),
    '--rationales-from',
    sharedData('pandalm-gpt-3.5-turbo-testset-v1.json'),
    '--skip-invalid',
    '--json',
  );
  t.is(code, 0);
  t.like(JSON.parse(stdout), { format: 'pandalm', rows: 999, valid: 855, invalid: 60, tiesDropped: 84, duplicates: 80, withRationale: 593 });
});

test('--model reports token-length percentiles and truncation counts with a real tokenizer', async (t) => {
  const { code, stdout } = await cli(fixture('data', 'rationale-set.zstd.parquet'), '--model', fixture('tokenizer-tiny'), '--max-length', '150', '--json');
  t.is(code, 0);
  const r = JSON.parse(stdout) as {
    tokens: Record<string, { count: number; p50: number; p90: number; p99: number; max: number }> & {
      maxLength: number;
      truncatedPairs: number;
      truncatedRationales: number;
    };
  };
  t.is(r.tokens.maxLength, 150);
  for (const k of ['prompt', 'chosen', 'rejected', 'rationale']) {
    const s = r.tokens[k]!;
    t.is(s.count, 6, k);
    t.true(s.p50 > 0 && s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.max, k);
  }
  t.true(r.tokens.truncatedRationales >= r.tokens.truncatedPairs);
  t.true(r.tokens.truncatedRationales > 0);

  const text = await cli(fixture('data', 'rationale-set.zstd.parquet'), '--model', fixture('tokenizer-tiny'));
  t.regex(text.stdout, /p50 +p90 +p99 +max +pairs/);
  t.regex(text.stdout, /over --max-length 1024: 0 of 6 pairs/);
});

dataTest('orca_dpo_pairs-284.parquet')('usage mistakes exit 2 with the fix', async (t) => {
  const badFormat = await cli(sharedData('orca_dpo_pairs-284.parquet'), '--format', 'csv');
  t.is(badFormat.code, 2);
  t.regex(badFormat.stderr, /--format must be one of orca, ultrafeedback, hh-rlhf/);
  const badLength = await cli(sharedData('orca_dpo_pairs-284.parquet'), '--max-length', 'lots');
  t.is(badLength.code, 2);
  const noModel = await cli(sharedData('orca_dpo_pairs-284.parquet'), '--model', path.join(repoRoot, 'nope'));
  t.is(noModel.code, 1);
  t.regex(noModel.stderr, /tokenizer\.json: not found/);
});
