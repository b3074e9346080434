// Bad rows and where they are reported, de-duplication, ids, and the containers (gzip by magic
// bytes, JSON objects holding an array, JSONL named .json).
import test from 'ava';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { detectFormat, loadPreferences, PreferenceDataError } from '../lib/index.js';
import { fixture, sharedData, dataTest } from './helpers/data_paths.js';

let tmp: string;
test.before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rdpo-data-'));
});
test.after.always(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('bad JSONL rows are reported as file:line with the reason; the load fails without skipInvalid', async (t) => {
  const file = fixture('data', 'broken-generic.jsonl');
  const err = await t.throwsAsync(loadPreferences(file), { instanceOf: PreferenceDataError });
  const msg = err!.message;
  t.true(msg.startsWith(`${file}: 7 of 10 rows are not valid generic preference pairs:`));
  t.true(msg.includes(`${file}:3: the chosen response is empty`));
  t.regex(msg, /broken-generic\.jsonl:4: not valid JSON \(/);
  t.true(msg.includes(`${file}:5: the chosen and rejected responses are identical`));
  t.true(msg.includes(`${file}:6: \`rejected\` is missing`));
  t.true(msg.includes(`${file}:7: the prompt must end with a user turn, it ends with an assistant turn`));
  t.true(msg.includes(`${file}:8: \`prompt\` must be a list of messages, got a number`));
  t.true(msg.includes(`${file}:11: the row is not a JSON object (it is a list)`));
  t.true(msg.includes('--skip-invalid'));
});

test('skipInvalid skips and counts bad rows; identical pairs are de-duplicated whatever their rationale', async (t) => {
  const { pairs, report } = await loadPreferences(fixture('data', 'broken-generic.jsonl'), { skipInvalid: true });
  t.like(report, { format: 'generic', container: 'jsonl', rows: 10, valid: 3, invalid: 7, duplicates: 1, pairs: 2, selected: 2, withRationale: 1 });
  t.is(report.invalidReasons.length, 7);
  t.deepEqual(
    pairs.map((p) => p.prompt),
    ['What is 2 + 2?', 'Capital of France?'],
  );
  // The first of two duplicates is kept, with its rationale.
  t.is(pairs[0]!.rationale, 'The response above is arithmetically right.');
  t.is(pairs[0]!.meta.source, `${fixture('data', 'broken-generic.jsonl')}:1`);
});

test('bad JSON rows are reported as file:#index; tool turns are refused by name', async (t) => {
  const file = fixture('data', 'broken-sharegpt.json');
  const { pairs, report } = await loadPreferences(file, { skipInvalid: true });
  t.like(report, { format: 'sharegpt', container: 'json', rows: 5, valid: 2, invalid: 3, duplicates: 1, pairs: 1 });
  t.deepEqual(report.invalidReasons, [
    `${file}:#1: \`chosen\` is missing`,
    `${file}:#2: \`conversations[1]\` is a tool turn (\`function_call\`); tool calls and results are not supported in preference pairs`,
    `${file}:#3: the prompt must end with a user turn, it ends with an assistant turn`,
  ]);
  t.deepEqual(
    pairs.map((p) => p.chosen),
    ['Hi there'],
  );
});

test('ids: the source id when there is one, else a content hash that does not change between loads', async (t) => {
  const a = await loadPreferences(fixture('data', 'broken-generic.jsonl'), { skipInvalid: true });
  const b = await loadPreferences(fixture('data', 'broken-generic.jsonl'), { skipInvalid: true });
  t.deepEqual(
    a.pairs.map((p) => p.id),
    b.pairs.map((p) => p.id),
  );
  t.regex(a.pairs[0]!.id, /^[0-9a-f]{16}$/);
  const withIds = path.join(tmp, 'ids.jsonl');
  await writeFile(
    withIds,
    [
      { id: 'q1', prompt: 'A?', chosen: 'yes', rejected: 'no' },
      { id: 'q1', prompt: 'B?', chosen: 'yes', rejected: 'no' },
      { id: 7, prompt: 'C?', chosen: 'yes', rejected: 'no' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  const { pairs } = await loadPreferences(withIds);
  t.is(pairs[0]!.id, 'q1');
  t.regex(pairs[1]!.id, /^q1~[0-9a-f]{8}$/, 'a repeated source id is made unique');
  t.is(pairs[2]!.id, '7');
});

dataTest(
  'orca_dpo_pairs-284.openai-dpo.jsonl',
  'llamafactory-dpo_en_demo.json',
  'orca_dpo_pairs-284.parquet',
  'hh-rlhf-harmless-base-test.jsonl.gz',
)('gzip is recognised by its magic bytes, whatever the name, for JSONL, JSON and Parquet', async (t) => {
  const jsonl = path.join(tmp, 'openai-really-gzip.jsonl');
  await writeFile(jsonl, gzipSync(await readFile(sharedData('orca_dpo_pairs-284.openai-dpo.jsonl'))));
  const r1 = await loadPreferences(jsonl);
  t.like(r1.report, { format: 'openai', container: 'jsonl', gzip: true, rows: 284, valid: 284 });
  t.is(r1.pairs[5]!.meta.source, `${jsonl}:6`);

  const json = path.join(tmp, 'sharegpt.json.gz');
  await writeFile(json, gzipSync(await readFile(sharedData('llamafactory-dpo_en_demo.json'))));
  t.like((await loadPreferences(json)).report, { format: 'sharegpt', container: 'json', gzip: true, rows: 300, duplicates: 5 });

  const parquet = path.join(tmp, 'orca.parquet.gz');
  await writeFile(parquet, gzipSync(await readFile(sharedData('orca_dpo_pairs-284.parquet'))));
  const r3 = await loadPreferences(parquet);
  t.like(r3.report, { format: 'orca', container: 'parquet', gzip: true, rows: 284, valid: 284 });
  const plain = await loadPreferences(sharedData('orca_dpo_pairs-284.parquet'));
  t.deepEqual(
    r3.pairs.map((p) => p.id),
    plain.pairs.map((p) => p.id),
  );

  const noExt = path.join(tmp, 'hh-no-extension');
  await copyFile(sharedData('hh-rlhf-harmless-base-test.jsonl.gz'), noExt);
  t.like((await loadPreferences(noExt, { skipInvalid: true })).report, { format: 'hh-rlhf', container: 'jsonl', gzip: true, rows: 2312 });
});

test('containers: JSON object holding one array, JSONL named .json, and clear refusals', async (t) => {
  const wrapped = path.join(tmp, 'wrapped.json');
  await writeFile(wrapped, JSON.stringify({ version: 1, rows: [{ prompt: 'p', chosen: 'a', rejected: 'b' }] }));
  t.like((await loadPreferences(wrapped)).report, { container: 'json', rows: 1, valid: 1 });

  const twoArrays = path.join(tmp, 'two-arrays.json');
  await writeFile(twoArrays, JSON.stringify({ train: [], test: [] }));
  const e1 = await t.throwsAsync(loadPreferences(twoArrays));
  t.regex(e1!.message, /holds several arrays \(train, test\)/);

  const jsonlAsJson = path.join(tmp, 'lines.json');
  await writeFile(jsonlAsJson, '{"prompt": "p", "chosen": "a", "rejected": "b"}\n{"prompt": "q", "chosen": "a", "rejected": "b"}\n');
  t.like((await loadPreferences(jsonlAsJson)).report, { container: 'jsonl', rows: 2, valid: 2 });

  const e2 = await t.throwsAsync(loadPreferences(path.join(tmp, 'nope.jsonl')));
  t.regex(e2!.message, /nope\.jsonl: no such file/);
  const csv = path.join(tmp, 'data.csv');
  await writeFile(csv, 'prompt,chosen,rejected\n');
  t.regex((await t.throwsAsync(loadPreferences(csv)))!.message, /not a JSON, JSONL or Parquet file/);
  const fake = path.join(tmp, 'fake.parquet');
  await writeFile(fake, '{"a": 1}');
  t.regex((await t.throwsAsync(loadPreferences(fake)))!.message, /does not start with the Parquet magic bytes/);
});

dataTest('orca_dpo_pairs-284.openai-dpo.jsonl', 'orca_dpo_pairs-284.parquet')(
  '--format forces a format: rows that do not fit it are invalid, with a hint',
  async (t) => {
    const err = await t.throwsAsync(loadPreferences(sharedData('orca_dpo_pairs-284.openai-dpo.jsonl'), { format: 'orca' }));
    t.regex(err!.message, /284 of 284 rows are not valid orca preference pairs/);
    t.regex(err!.message, /openai-dpo\.jsonl:1: `question` is missing/);
    t.regex(err!.message, /is --format right\?/);
    await t.throwsAsync(loadPreferences(sharedData('orca_dpo_pairs-284.parquet'), { format: 'nope' as never }), { message: /unknown format "nope"/ });
  },
);

test('detectFormat recognises each format from row keys', (t) => {
  t.is(detectFormat([{ system: '', question: 'q', chosen: 'a', rejected: 'b' }]), 'orca');
  t.is(detectFormat([{ prompt: 'q', prompt_id: 'x', chosen: [], rejected: [], score_chosen: 1, score_rejected: 0 }]), 'ultrafeedback');
  t.is(detectFormat([{ chosen: '\n\nHuman: hi\n\nAssistant: a', rejected: '\n\nHuman: hi\n\nAssistant: b' }]), 'hh-rlhf');
  t.is(detectFormat([{ prompt: 'q', chosen: 'a', rejected: 'b', rationale: 'r' }]), 'rationale-set');
  t.is(detectFormat([{ input: { messages: [] }, preferred_output: [], non_preferred_output: [] }]), 'openai');
  t.is(detectFormat([{ conversations: [], chosen: {}, rejected: {} }]), 'sharegpt');
  t.is(detectFormat([{ idx: 0, instruction: 'i', input: '', response1: 'a', response2: 'b', annotator1: 1 }]), 'pandalm');
  t.is(detectFormat([{ prompt: 'q', chosen: 'a', rejected: 'b' }]), 'generic');
  t.is(
    detectFormat([
      { prompt: [{ role: 'user', content: 'q' }], chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }] },
    ]),
    'generic',
  );
  t.throws(() => detectFormat([{ text: 'x' }]), { message: /no preference format has the keys `text`/ });
});

test('generic conversational rows (TRL): explicit prompt, implicit prompt, and mismatches', async (t) => {
  const file = path.join(tmp, 'trl.jsonl');
  const u = (content: string) => ({ role: 'user', content });
  const a = (content: string) => ({ role: 'assistant', content });
  const sys = { role: 'system', content: 'Be brief.' };
  await writeFile(
    file,
    [
      { prompt: [sys, u('Hi')], chosen: [a('Hello')], rejected: [a('Go away')] },
      { chosen: [u('2+2?'), a('4')], rejected: [u('2+2?'), a('5')] },
      { chosen: [u('2+2?'), a('4')], rejected: [u('3+3?'), a('5')] },
      { prompt: 'Q', chosen: [a('x'), a('y')], rejected: [a('z')] },
      { prompt: [u('Hi')], chosen: [a('x'), u('y')], rejected: [a('z')] },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  const { pairs, report } = await loadPreferences(file, { skipInvalid: true });
  t.like(report, { rows: 5, valid: 2, invalid: 3 });
  t.deepEqual(pairs[0], { ...pairs[0]!, prompt: [u('Hi')], system: 'Be brief.', chosen: 'Hello', rejected: 'Go away' });
  t.deepEqual(pairs[1]!.prompt, [u('2+2?')]);
  t.deepEqual(
    report.invalidReasons.map((r) => r.slice(file.length)),
    [
      ':3: `chosen` and `rejected` differ before their last message; they must share the prompt',
      ':4: `prompt` is not the last user turn of the conversation in `chosen`/`rejected`',
      ':5: `chosen` must end with an assistant message, it ends with user',
    ],
  );
});
