// Crash safety, end to end: `rdpo-native serve` on a real tiny model, `rdpo-native rationales` against
// it as a child process, killed with SIGKILL (and, separately, Ctrl-C) mid-run, then rerun.
import test from 'ava';
import { dataTest, sharedData } from './helpers/data_paths.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPreferences } from '../lib/data/load.js';
import { pairKey } from '../lib/rationales/pair_key.js';
import { cliPath, runCli } from './helpers/cli.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));
const DATA = sharedData('hh-rlhf-harmless-base-test.jsonl.gz');
// Every test here feeds the rationale runs from this file.
const crashTest = dataTest('hh-rlhf-harmless-base-test.jsonl.gz');
const LIMIT = 48;

let server: ChildProcess;
let url: string;

test.before(async () => {
  server = spawn(process.execPath, [cliPath, 'serve', '--model', MODEL, '--port', '0', '--max-batch', '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving \S+ at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    server.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    server.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
});

test.after.always(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
});

const args = (out: string) => [
  'rationales',
  '--data',
  DATA,
  '--skip-invalid',
  '--limit',
  String(LIMIT),
  '--out',
  out,
  '--style',
  'general',
  '--generator',
  `openai:${url}`,
  '--concurrency',
  '4',
  '--max-new-tokens',
  '48',
  '--temperature',
  '0',
];

/** Starts the run and kills it with `signal` once the output has `rows` complete lines. */
async function interruptAfter(
  out: string,
  rows: number,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...args(out)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, sig) => r({ code, signal: sig })));
  const poll = setInterval(() => {
    if (!existsSync(out)) return;
    const lines = readFileSync(out, 'utf8').split('\n').length - 1;
    if (lines >= rows) {
      clearInterval(poll);
      child.kill(signal);
    }
  }, 5);
  const result = await exited;
  clearInterval(poll);
  return { ...result, stderr };
}

function completeRows(file: string): Array<Record<string, any>> {
  const text = readFileSync(file, 'utf8');
  t_assertNoTornTail(text);
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function t_assertNoTornTail(text: string): void {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the output ends with a torn line');
}

crashTest.serial('SIGKILL mid-run, then the same command: every pair exactly once, no torn line, earlier rows unchanged', async (t) => {
  const { pairs } = await loadPreferences(DATA, { limit: LIMIT, skipInvalid: true });
  t.is(pairs.length, LIMIT);
  const out = join(mkdtempSync(join(tmpdir(), 'rdpo-crash-')), 'rationales.jsonl');

  const killed = await interruptAfter(out, 6, 'SIGKILL');
  t.is(killed.signal, 'SIGKILL');
  const afterKill = readFileSync(out, 'utf8');
  const cleanEnd = afterKill.lastIndexOf('\n') + 1;
  const before = afterKill.slice(0, cleanEnd);
  const doneBefore = before.split('\n').filter(Boolean).length;
  t.true(doneBefore >= 6 && doneBefore < LIMIT, `${doneBefore} rows before the kill`);
  // Whether or not the kill landed mid-write, make the torn tail certain: half of a real row.
  const half = before.split('\n')[0]!.slice(0, 40);
  appendFileSync(out, afterKill.slice(cleanEnd) === '' ? half : '');
  t.false(readFileSync(out, 'utf8').endsWith('\n'));

  const rerun = await runCli(args(out), { timeoutMs: 240_000 });
  t.is(rerun.code, 0, rerun.stderr);
  t.regex(rerun.stderr, /cut off a torn last line/);
  t.regex(rerun.stderr, new RegExp(`${LIMIT - doneBefore} done, ${doneBefore} skipped as already done, 0 failed`));

  const final = readFileSync(out, 'utf8');
  t.true(final.startsWith(before), 'rows completed before the kill are unchanged, byte for byte');
  const rows = completeRows(out);
  t.is(rows.length, LIMIT);
  const keys = rows.map((r) => pairKey(r as any, r.rationale_style));
  t.is(new Set(keys).size, LIMIT, 'no pair twice');
  const expected = new Set(pairs.map((p) => pairKey(p, 'general')));
  const strays = rows.filter((r) => !expected.has(pairKey(r as any, r.rationale_style)));
  t.deepEqual(
    strays.map((r) => [r.id, r.meta]),
    [],
    'no row for a pair outside the input',
  );
  t.deepEqual([...keys].sort(), [...expected].sort(), 'every input pair');
  for (const r of rows) {
    t.is(r.rationale_style, 'general');
    t.is(r.rationale_model, 'tiny-chat');
    t.is(typeof r.rationale, 'string');
  }
  t.false(existsSync(`${out}.lock`));
  t.true(statSync(out).size === Buffer.byteLength(final));
});

crashTest.serial('Ctrl-C: stops taking work, finishes, prints the summary, exits 130; the rerun completes', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'rdpo-int-')), 'rationales.jsonl');
  const stopped = await interruptAfter(out, 4, 'SIGINT');
  t.is(stopped.code, 130, stopped.stderr);
  t.regex(stopped.stderr, /interrupted: no new requests/);
  t.regex(stopped.stderr, /interrupted in [\d.]+ s: \d+ done, 0 skipped as already done, 0 failed, \d+ not run/);
  const rowsAfterStop = completeRows(out);
  t.true(rowsAfterStop.length >= 4 && rowsAfterStop.length < LIMIT);
  const rerun = await runCli(args(out), { timeoutMs: 240_000 });
  t.is(rerun.code, 0, rerun.stderr);
  const rows = completeRows(out);
  t.is(rows.length, LIMIT);
  t.is(new Set(rows.map((r) => pairKey(r as any, 'general'))).size, LIMIT);
});

crashTest.serial('--generator DIR runs the local model in-process', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'rdpo-local-')), 'rationales.jsonl');
  const res = await runCli(
    [
      'rationales',
      '--data',
      DATA,
      '--skip-invalid',
      '--limit',
      '6',
      '--out',
      out,
      '--style',
      'detailed',
      '--generator',
      MODEL,
      '--concurrency',
      '3',
      '--max-new-tokens',
      '16',
      '--temperature',
      '0',
    ],
    { timeoutMs: 120_000 },
  );
  t.is(res.code, 0, res.stderr);
  t.regex(res.stderr, /6 done, 0 skipped as already done, 0 failed/);
  const rows = completeRows(out);
  t.is(rows.length, 6);
  t.true(rows.every((r) => r.rationale_model === 'tiny-chat' && r.rationale_style === 'detailed' && r.rationale.length > 0));
});

crashTest.serial('filter through the CLI: a judge that never answers with scores fails every row, exit 1, nothing kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rdpo-filter-cli-'));
  const input = join(dir, 'rationales.jsonl');
  const gen = await runCli(
    args(input).map((a) => (a === String(LIMIT) ? '3' : a)),
    { timeoutMs: 120_000 },
  );
  t.is(gen.code, 0, gen.stderr);
  // The tiny random model writes gibberish, so its "scores" are unreadable.
  const res = await runCli(
    ['rationales', 'filter', '--in', input, '--out', join(dir, 'kept.jsonl'), '--judge', `openai:${url}`, '--judge-attempts', '2', '--max-new-tokens', '8'],
    { timeoutMs: 120_000 },
  );
  t.is(res.code, 1, res.stderr);
  t.regex(res.stderr, /0 kept, 0 dropped, 3 failed \(3 with unreadable judge answers\), 0 skipped as already judged/);
  t.is(readFileSync(join(dir, 'kept.jsonl'), 'utf8'), '');
  t.is(readFileSync(join(dir, 'kept.dropped.jsonl'), 'utf8'), '');
});
