#!/usr/bin/env node
// `npm run bench`: rdpo-native's trainer against TRL's DPOTrainer on the same model, data and
// settings, each run in a fresh process (so peak RSS is its own), for float32 and bfloat16 and each
// batch size; prints the side-by-side table. --json prints the raw results and ratios; --record also
// rewrites the "Training throughput vs TRL" section of docs/benchmarks.md (other sections are left as
// they are). --scaling instead sweeps sequence length and batch (see below).
//
//   node bench/run.mjs [--model DIR] [--data FILE] [--dtypes float32,bfloat16] [--batch 2,8]
//                      [--repeats 2] [--max-wait 300] [--max-length 1024] [--warmup 2] [--steps 5]
//                      [--threads N] [--precompute-ref] [--phases] [--only ours|trl] [--python python3]
//                      [--json] [--record] [--record-busy]
//   node bench/run.mjs --scaling [--seq-lens 256,512,1024,2048] [--scaling-batches 1,2,4,8,16]
//                      [--scaling-batch 2] [--scaling-seq-len 256] [--dtypes bfloat16] [--record]
//
// Against being fooled by a busy machine (bench/side_by_side.mjs holds these rules):
//  - the sides are interleaved, TRL, ours, TRL, ours … (--repeats pairs per dtype and batch), and
//    each side counts its best run;
//  - before each side starts, the 1-minute load average must fall to 0.5 per core (we wait up to
//    --max-wait seconds: the previous side's own threads keep it up for a minute or two); it is
//    recorded before and after each side;
//  - a row where any side started above that load is "not a verdict", and --record refuses such
//    rows unless --record-busy is given (then they are recorded, marked "not a verdict").
//
// Without --model/--data it uses bench/.cache/, generating the random-init SmolLM2-135M-shaped model
// (bench/make_bench_model.py) and the HH-RLHF pairs (bench/make_bench_data.py) on first use.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { replaceMarkedBlock } from './doc_section.mjs';
import { MAX_LOAD_PER_CORE, parseIntList, recordDecision, scalingPoints, schedule, summarizeRows, waitForQuiet } from './side_by_side.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## Training throughput vs TRL';
const TARGET = { speedup: 2, rss: 0.6 };

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    dtypes: { type: 'string', default: 'float32,bfloat16' },
    batch: { type: 'string' },
    'batch-size': { type: 'string' },
    repeats: { type: 'string', default: '2' },
    'max-wait': { type: 'string', default: '300' },
    scaling: { type: 'boolean', default: false },
    'seq-lens': { type: 'string', default: '256,512,1024,2048' },
    'scaling-batches': { type: 'string', default: '1,2,4,8,16' },
    'scaling-batch': { type: 'string', default: '2' },
    'scaling-seq-len': { type: 'string', default: '256' },
    'record-busy': { type: 'boolean', default: false },
    'max-length': { type: 'string', default: '1024' },
    warmup: { type: 'string', default: '2' },
    steps: { type: 'string', default: '5' },
    threads: { type: 'string' },
    'precompute-ref': { type: 'boolean', default: false },
    phases: { type: 'boolean', default: false },
    only: { type: 'string' },
    python: { type: 'string', default: process.env.PYTHON ?? 'python3' },
    json: { type: 'boolean', default: false },
    record: { type: 'boolean', default: false },
  },
});

function fail(msg) {
  console.error(`bench/run.mjs: ${msg}`);
  process.exit(2);
}
const dtypes = a.dtypes.split(',').map((d) => d.trim());
for (const d of dtypes) if (d !== 'float32' && d !== 'bfloat16') fail(`--dtypes: "${d}" is neither float32 nor bfloat16`);
if (a.only && a.only !== 'ours' && a.only !== 'trl') fail(`--only must be ours or trl, got "${a.only}"`);
const log = (msg) => process.stderr.write(`${msg}\n`);

function run(cmd, args, what) {
  log(`$ ${[cmd, ...args].join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  const took = ((Date.now() - t0) / 1000).toFixed(0);
  if (r.error) return { error: `${what}: ${r.error.message}` };
  if (r.status !== 0) {
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
    return { error: `${what} exited ${r.status} after ${took} s: ${tail}` };
  }
  const line = r.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) return { error: `${what} printed no JSON result` };
  log(`  done in ${took} s`);
  return { result: JSON.parse(line), command: [cmd, ...args].join(' ') };
}

// Model and data: given, or generated once into bench/.cache/.
const cache = path.join(root, 'bench', '.cache');
const model = a.model ?? path.join(cache, 'smollm2-135m-random');
const data = a.data ?? path.join(cache, 'hh-bench-pairs.jsonl');
if (!a.model && !existsSync(path.join(model, 'config.json'))) {
  mkdirSync(cache, { recursive: true });
  const r = spawnSync(a.python, ['bench/make_bench_model.py', '--out', model], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail('making the bench model failed (see above)');
}
if (!a.data && !existsSync(data)) {
  const r = spawnSync(a.python, ['bench/make_bench_data.py', '--tokenizer', model, '--out', data], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail('making the bench data failed (see above)');
}
for (const [flag, p] of [
  ['--model', path.join(model, 'config.json')],
  ['--data', data],
])
  if (!existsSync(p)) fail(`${flag}: ${p} does not exist`);

let batches, repeats, maxWait, seqLens, scalingBatches, scalingBatch, scalingSeqLen;
try {
  batches = parseIntList(a.batch ?? a['batch-size'] ?? '2', '--batch');
  repeats = parseIntList(a.repeats, '--repeats')[0];
  maxWait = parseIntList(a['max-wait'], '--max-wait', 0)[0];
  seqLens = parseIntList(a['seq-lens'], '--seq-lens', 16);
  scalingBatches = parseIntList(a['scaling-batches'], '--scaling-batches');
  scalingBatch = parseIntList(a['scaling-batch'], '--scaling-batch')[0];
  scalingSeqLen = parseIntList(a['scaling-seq-len'], '--scaling-seq-len', 16)[0];
} catch (e) {
  fail(e.message);
}
const cores = os.cpus().length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One side in a fresh process, the load average read before (after waiting for quiet) and after.
async function runSide(side, dtype, batch, { dataFile = data, maxLength = a['max-length'], maxPromptLength } = {}) {
  // TRL 1.16 has no separate prompt limit, so --max-prompt-length goes to ours only.
  const common = [
    '--model',
    model,
    '--data',
    dataFile,
    '--batch-size',
    String(batch),
    '--max-length',
    String(maxLength),
    ...(maxPromptLength ? ['--max-prompt-length', String(maxPromptLength)] : []),
    '--warmup',
    a.warmup,
    '--steps',
    a.steps,
    ...(a.threads ? ['--threads', a.threads] : []),
    '--json',
    '--dtype',
    dtype,
  ];
  const q = await waitForQuiet({ cores, maxWaitS: maxWait, loadavg: () => os.loadavg()[0], sleep });
  if (q.waitedS) log(`  waited ${q.waitedS} s for the load average to settle (now ${q.load.toFixed(2)})`);
  if (!q.quiet) log(`  load average ${q.load.toFixed(2)} is above ${(MAX_LOAD_PER_CORE * cores).toFixed(2)}: this side is not a verdict`);
  const r =
    side === 'ours'
      ? run(process.execPath, ['bin/rdpo-native.js', 'bench', ...common, ...(a.phases ? ['--phases'] : [])], `rdpo-native bench (${dtype}, batch ${batch})`)
      : run(
          a.python,
          [
            'bench/trl_peer.py',
            ...common.filter((x, i, arr) => x !== '--max-prompt-length' && arr[i - 1] !== '--max-prompt-length'),
            ...(a['precompute-ref'] ? ['--precompute-ref'] : []),
          ],
          `TRL peer (${dtype}, batch ${batch})`,
        );
  const loadAfter = os.loadavg()[0];
  if (r.error) log(`  ${r.error}`);
  return { side, dtype, batch, loadBefore: q.load, loadAfter, waitedS: q.waitedS, ...r };
}

const fmt = (x, digits = 0) => (x === null || x === undefined ? '—' : Number(x).toFixed(digits));
const pct = (x) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const mark = (ok) => (ok === null ? '' : ok ? ' ✓' : ' ✗');
const loads = (s) => (s ? s.loadsBefore.map((b, i) => `${b.toFixed(1)}→${s.loadsAfter[i].toFixed(1)}`).join(', ') : '—');

function table(rows) {
  const head =
    '| dtype | batch | ours tokens/s | TRL tokens/s | ratio (target ≥ 2×) | ours peak RSS MB | TRL peak RSS MB | ratio (target ≤ 0.6×) | ours MFU | ours hardware MFU | TRL MFU | load avg before→after (ours) | (TRL) | verdict |';
  const sep = '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|';
  const body = rows.map(
    (r) =>
      `| ${r.dtype} | ${r.batch} | ${fmt(r.ours?.tokensPerSec, 1)} | ${fmt(r.trl?.tokensPerSec, 1)} | ` +
      `${r.speedup === null ? '—' : `${r.speedup.toFixed(2)}×${mark(r.speedup >= TARGET.speedup)}`} | ` +
      `${fmt(r.ours?.peakRssMb)} | ${fmt(r.trl?.peakRssMb)} | ` +
      `${r.rssRatio === null ? '—' : `${r.rssRatio.toFixed(2)}×${mark(r.rssRatio <= TARGET.rss)}`} | ` +
      `${pct(r.ours?.best?.mfu)} | ${pct(r.ours?.best?.hardware_mfu)} | ${pct(r.trl?.best?.mfu)} | ${loads(r.ours)} | ${loads(r.trl)} | ` +
      `${r.verdict ? 'verdict' : `**not a verdict** (${r.notVerdictReason})`} |`,
  );
  return [head, sep, ...body].join('\n');
}

// The CPU's vector flags (lib/native/runtime.ts reads them, as doctor does) and the ISA LibTorch
// dispatches to (its own report, forced variables included): rows from different kinds of machine
// (or dispatch) are kept in different sections of docs/benchmarks.md, never mixed in one table.
// Read after the sides have run, so the addon is not loaded in this process while they do.
async function machineIsa() {
  const { cpuFlags } = await import(path.join(root, 'dist', 'native', 'runtime.js'));
  const { loadNative } = await import(path.join(root, 'dist', 'native', 'load.js'));
  const flags = [...cpuFlags()].filter((f) => /^(avx|amx|fma)/.test(f)).sort();
  return { flags, dispatch: loadNative().runtimeInfo().cpuCapability.toLowerCase() };
}

async function machine() {
  const { flags, dispatch } = await machineIsa();
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
    load_avg_1m: os.loadavg()[0],
    cpu_flags: flags,
    dispatch,
    dispatch_env: ['ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA'].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`),
  };
}

// One line saying what the rows were measured on: the flags, and the dispatch when it was forced.
function machineLine(m) {
  const forced = m.dispatch_env.length ? `; LibTorch dispatch forced to ${m.dispatch.toUpperCase()} by \`${m.dispatch_env.join(' ')}\` (both sides)` : '';
  return `${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, ${m.platform}; CPU flags: ${m.cpu_flags.join(' ') || 'none read'}${forced}`;
}

// What the data is, for the record.
function dataNote(file) {
  const seq = /^scaling-(\d+)\.jsonl$/.exec(path.basename(file));
  if (seq) return `bench/make_scaling_data.py --seq-len ${seq[1]}: HH-RLHF text cut so that prompt + completion + EOS ≈ ${seq[1]} tokens, half prompt`;
  if (path.basename(file) === 'hh-bench-pairs.jsonl') return 'bench/make_bench_data.py: HH-RLHF harmless-base test pairs of 262 ± 20 tokens';
  return 'given with --data';
}

// What bench/make_bench_model.py wrote about the model, if it made it.
function modelNote() {
  const file = path.join(model, 'bench_model.json');
  if (!existsSync(file)) return '';
  const m = JSON.parse(readFileSync(file, 'utf8'));
  return `, made by bench/make_bench_model.py --preset ${m.preset} (random init, ${m.parameters.toLocaleString('en-US')} parameters; tokenizer ${m.tokenizer.replace(/ \(.*\)$/, '')})`;
}

function writeSection(name, body) {
  const file = path.join(root, 'docs', 'benchmarks.md');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  writeFileSync(file, replaceMarkedBlock(old, name, body, 'bench/run.mjs --record'));
  log(`recorded in ${path.relative(root, file)}`);
}

function versionsOf(records) {
  const trl = records.find((r) => r.side === 'trl' && r.result)?.result?.versions ?? {};
  const ours = records.find((r) => r.side === 'ours' && r.result)?.result?.versions ?? {};
  return Object.entries({ ...trl, ...ours })
    .map(([k, x]) => `${k} ${x}`)
    .join(', ');
}

async function sideBySide() {
  const records = [];
  for (const s of schedule({ dtypes, batches, repeats, only: a.only })) records.push(await runSide(s.side, s.dtype, s.batch));
  const rows = summarizeRows(records, { cores });
  if (a.json) console.log(JSON.stringify({ machine: await machine(), rows, runs: records.map(({ result, ...r }) => ({ ...r, result })) }, null, 2));
  else {
    console.log(table(rows));
    for (const r of rows) for (const e of r.errors) console.log(`\n${e}`);
  }
  if (!a.record) return;
  const decision = recordDecision(rows, { allowBusy: a['record-busy'] });
  if (!decision.record) fail(decision.message);
  if (decision.message) log(decision.message);
  const m = await machine();
  const first = records.find((r) => r.result)?.result;
  if (!first) fail('--record: no side produced a result; nothing to record');
  writeSection(
    `trl-throughput-${m.dispatch}`,
    [
      `${SECTION} (${m.dispatch.toUpperCase()})`,
      '',
      `Recorded ${new Date().toISOString().slice(0, 10)} by \`node bench/run.mjs --record\` (generated section: rerun to update).`,
      '',
      `- Machine: ${machineLine(m)}; ${first.threads} intra-op threads.`,
      `- Versions: ${versionsOf(records)}.`,
      `- Model: \`${path.relative(root, model) || model}\` (${first.matmul_params.toLocaleString('en-US')} matmul parameters)${modelNote()}; data: \`${path.relative(root, data) || data}\` (${dataNote(data)}), the first (warm-up + steps) × batch pairs in file order.`,
      `- Settings: DPO (sigmoid, β 0.1), ${first.warmup_steps} warm-up + ${first.steps} timed optimiser steps, max length ${a['max-length']}, reference: ours precomputes its log-probs (the reference model alone in memory; the time is charged to the steps), TRL ${records.find((r) => r.result && r.side === 'trl')?.result?.precompute_ref ? 'precomputes too (precompute_ref_log_probs, time prorated to the steps)' : 'forwards a second model copy each step (its default)'}; bfloat16 = autocast over float32 master weights on both sides.`,
      `- Method: each side in a fresh process; sides interleaved (TRL, ours, TRL, ours: ${repeats} run(s) each per row); each side counts its best run's tokens/s and its lowest peak RSS. Before each side the 1-minute load average had to fall to ${MAX_LOAD_PER_CORE} per core (≤ ${(MAX_LOAD_PER_CORE * cores).toFixed(1)} here; waiting up to ${maxWait} s); the load columns give it before→after each run. A row where any side started above it is marked **not a verdict**: the README quotes verdict rows only.`,
      '- tokens/s: non-pad tokens of the chosen and rejected sequences (prompt included) over the wall time of the timed steps, reference work included. MFU: (6·N per trained token + 2·N per reference-forwarded token) / time / a matmul peak of the same dtype measured in the same process; N = matmul parameters (decoder linears + LM head). Hardware MFU: the same over the rows actually computed (a shared prompt once).',
      '',
      'Commands:',
      '',
      '```sh',
      ...[...new Set(records.map((r) => r.command).filter(Boolean))],
      '```',
      '',
      table(rows),
      '',
      ...rows.flatMap((r) => r.errors.map((e) => `- ${e}`)),
    ].join('\n'),
  );
}

// Data whose every sequence (prompt + completion + EOS) is about `seqLen` tokens, made once.
function scalingData(seqLen, pairs) {
  const file = path.join(cache, `scaling-${seqLen}.jsonl`);
  if (existsSync(file)) return file;
  mkdirSync(cache, { recursive: true });
  const r = spawnSync(a.python, ['bench/make_scaling_data.py', '--tokenizer', model, '--out', file, '--seq-len', String(seqLen), '--pairs', String(pairs)], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) fail(`making the scaling data for --seq-lens ${seqLen} failed (see above)`);
  return file;
}

async function scaling() {
  const points = scalingPoints({ seqLens, batches: scalingBatches, fixedBatch: scalingBatch, fixedSeqLen: scalingSeqLen });
  const steps = Number(a.warmup) + Number(a.steps);
  const out = [];
  for (const dtype of dtypes)
    for (const p of points) {
      const dataFile = scalingData(p.seqLen, steps * Math.max(...scalingBatches, scalingBatch));
      const records = [];
      for (const side of a.only ? [a.only] : ['trl', 'ours'])
        records.push(await runSide(side, dtype, p.batch, { dataFile, maxLength: p.seqLen + 8, maxPromptLength: p.seqLen }));
      const [row] = summarizeRows(records, { cores });
      out.push({ ...p, row });
    }
  const head = '| dtype | sweep | seq len | batch | ours tokens/s | TRL tokens/s | ratio | ours peak RSS MB | TRL peak RSS MB | ratio | verdict |';
  const sep = '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|';
  const body = out.map(
    ({ sweep, seqLen, batch, row: r }) =>
      `| ${r.dtype} | ${sweep} | ${seqLen} | ${batch} | ${fmt(r.ours?.tokensPerSec, 1)} | ${fmt(r.trl?.tokensPerSec, 1)} | ${r.speedup === null ? '—' : `${r.speedup.toFixed(2)}×`} | ` +
      `${fmt(r.ours?.peakRssMb)} | ${fmt(r.trl?.peakRssMb)} | ${r.rssRatio === null ? '—' : `${r.rssRatio.toFixed(2)}×`} | ${r.verdict ? 'verdict' : `not a verdict (${r.notVerdictReason})`} |`,
  );
  const tbl = [head, sep, ...body].join('\n');
  if (a.json) console.log(JSON.stringify({ machine: await machine(), points: out }, null, 2));
  else console.log(tbl);
  if (!a.record) return;
  const decision = recordDecision(
    out.map((o) => o.row),
    { allowBusy: a['record-busy'] },
  );
  if (!decision.record) fail(decision.message);
  const m = await machine();
  writeSection(
    `scaling-${m.dispatch}`,
    [
      `## Scaling with sequence length and batch (${m.dispatch.toUpperCase()})`,
      '',
      `Recorded ${new Date().toISOString().slice(0, 10)} by \`node bench/run.mjs --scaling --record\`: ${machineLine(m)}; the bench model; synthetic pairs (bench/make_scaling_data.py: HH-RLHF text cut so that prompt + completion + EOS ≈ the sequence length, half prompt); ${a.warmup} warm-up + ${a.steps} timed steps; one run per side (TRL first), each in a fresh process after the load settled (see the method above). Sequence-length sweep at batch ${scalingBatch} pairs, batch sweep at sequence length ${scalingSeqLen}.`,
      '',
      tbl,
    ].join('\n'),
  );
}

await (a.scaling ? scaling() : sideBySide());
