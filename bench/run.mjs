#!/usr/bin/env node
// `npm run bench`: rdpo-native's trainer against TRL's DPOTrainer on the same model, data and
// settings, each run in a fresh process (so peak RSS is its own), for float32 and bfloat16; prints
// the side-by-side table. --json prints the raw results and ratios; --record also rewrites the
// "Training throughput vs TRL" section of docs/benchmarks.md (other sections are left as they are).
//
//   node bench/run.mjs [--model DIR] [--data FILE] [--dtypes float32,bfloat16] [--batch-size 2]
//                      [--max-length 1024] [--warmup 2] [--steps 5] [--threads N] [--precompute-ref] [--phases]
//                      [--only ours|trl] [--python python3] [--json] [--record]
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

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## Training throughput vs TRL';
const TARGET = { speedup: 2, rss: 0.6 };

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    dtypes: { type: 'string', default: 'float32,bfloat16' },
    'batch-size': { type: 'string', default: '2' },
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
  const line = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
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
for (const [flag, p] of [['--model', path.join(model, 'config.json')], ['--data', data]]) if (!existsSync(p)) fail(`${flag}: ${p} does not exist`);

const common = ['--model', model, '--data', data, '--batch-size', a['batch-size'], '--max-length', a['max-length'],
  '--warmup', a.warmup, '--steps', a.steps, ...(a.threads ? ['--threads', a.threads] : []), '--json'];
// Ours always precomputes reference log-probs (the trainer's design) and charges their time to the
// steps; TRL forwards a second model copy each step unless --precompute-ref is given.

const rows = [];
for (const dtype of dtypes) {
  const ours = a.only === 'trl' ? { skipped: true } : run(process.execPath, ['bin/rdpo-native.js', 'bench', ...common, '--dtype', dtype, ...(a.phases ? ['--phases'] : [])], `rdpo-native bench (${dtype})`);
  const trl = a.only === 'ours' ? { skipped: true } : run(a.python, ['bench/trl_peer.py', ...common, '--dtype', dtype, ...(a['precompute-ref'] ? ['--precompute-ref'] : [])], `TRL peer (${dtype})`);
  for (const side of [ours, trl]) if (side.error) log(`  ${side.error}`);
  const o = ours.result, t = trl.result;
  rows.push({
    dtype,
    ours: o ?? null,
    trl: t ?? null,
    errors: [ours.error, trl.error].filter(Boolean),
    commands: [ours.command, trl.command].filter(Boolean),
    speedup: o && t ? o.pair_tokens_per_sec / t.tokens_per_sec : null,
    cpu_speedup: o?.pair_tokens_per_cpu_sec && t?.pair_tokens_per_cpu_sec ? o.pair_tokens_per_cpu_sec / t.pair_tokens_per_cpu_sec : null,
    rss_ratio: o && t ? o.peak_rss_mb / t.peak_rss_mb : null,
  });
}

const fmt = (x, digits = 0) => (x === null || x === undefined ? '—' : Number(x).toFixed(digits));
const pct = (x) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const mark = (ok) => (ok === null ? '' : ok ? ' ✓' : ' ✗');
function table() {
  const head = '| dtype | ours tokens/s | TRL tokens/s | ratio (target ≥ 2×) | per CPU-second ratio | ours peak RSS MB | TRL peak RSS MB | ratio (target ≤ 0.6×) | ours MFU | TRL MFU | load avg (ours / TRL) |';
  const sep = '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const body = rows.map((r) =>
    `| ${r.dtype} | ${fmt(r.ours?.pair_tokens_per_sec, 1)} | ${fmt(r.trl?.tokens_per_sec, 1)} | ` +
    `${r.speedup === null ? '—' : `${r.speedup.toFixed(2)}×${mark(r.speedup >= TARGET.speedup)}`} | ` +
    `${r.cpu_speedup === null ? '—' : `${r.cpu_speedup.toFixed(2)}×`} | ` +
    `${fmt(r.ours?.peak_rss_mb)} | ${fmt(r.trl?.peak_rss_mb)} | ` +
    `${r.rss_ratio === null ? '—' : `${r.rss_ratio.toFixed(2)}×${mark(r.rss_ratio <= TARGET.rss)}`} | ` +
    `${pct(r.ours?.mfu)} | ${pct(r.trl?.mfu)} | ${fmt(r.ours?.load_avg_1m, 1)} / ${fmt(r.trl?.load_avg_1m, 1)} |`);
  return [head, sep, ...body].join('\n');
}

if (a.json) {
  console.log(JSON.stringify({ machine: machine(), rows }, null, 2));
} else {
  console.log(table());
  for (const r of rows) for (const e of r.errors) console.log(`\n${r.dtype}: ${e}`);
}

function machine() {
  return { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memory_gib: Math.round(os.totalmem() / 2 ** 30), platform: `${process.platform}-${process.arch}`, load_avg_1m: os.loadavg()[0] };
}

if (a.record) record();

// What bench/make_bench_model.py wrote about the model, if it made it.
function modelNote() {
  const file = path.join(model, 'bench_model.json');
  if (!existsSync(file)) return '';
  const m = JSON.parse(readFileSync(file, 'utf8'));
  return `, made by bench/make_bench_model.py --preset ${m.preset} (random init, ${m.parameters.toLocaleString('en-US')} parameters; tokenizer ${m.tokenizer.replace(/ \(.*\)$/, '')})`;
}

function record() {
  const any = rows.find((r) => r.ours || r.trl);
  if (!any) fail('--record: no side produced a result; nothing to record');
  const m = machine();
  const v = { ...(rows.find((r) => r.trl)?.trl?.versions ?? {}), ...(rows.find((r) => r.ours)?.ours?.versions ?? {}) };
  const s = rows.find((r) => r.ours ?? r.trl);
  const first = s.ours ?? s.trl;
  const lines = [
    SECTION,
    '',
    `Recorded ${new Date().toISOString().slice(0, 10)} by \`node bench/run.mjs --record\` (generated section: rerun to update).`,
    '',
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, ${m.platform}; ${first.threads} intra-op threads; 1-minute load average at the end ${m.load_avg_1m.toFixed(1)} (a shared machine slows both sides alike; compare ratios).`,
    `- Versions: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join(', ')}.`,
    `- Model: \`${path.relative(root, model) || model}\` (${first.matmul_params.toLocaleString('en-US')} matmul parameters)${modelNote()}; data: \`${path.relative(root, data) || data}\` (bench/make_bench_data.py: HH-RLHF harmless-base test pairs of 262 ± 20 tokens), the first (warm-up + steps) × batch pairs in file order.`,
    `- Settings: DPO (sigmoid, β 0.1), batch ${first.batch_size} pairs, ${first.warmup_steps} warm-up + ${first.steps} timed optimiser steps, max length ${a['max-length']}, reference: ours precomputes its log-probs (the reference model alone in memory; the time is charged to the steps), TRL ${rows.find((r) => r.trl)?.trl?.precompute_ref ? 'precomputes too (precompute_ref_log_probs, time prorated to the steps)' : 'forwards a second model copy each step (its default)'}; bfloat16 = autocast over float32 master weights on both sides.`,
    '- Per CPU-second ratio: the same tokens over process CPU seconds (user + sys, all threads) instead of wall seconds, less disturbed by other load on a shared machine.',
    '- Load avg: the 1-minute load average of the 2-core machine when each side finished. Other sessions share it; a side measured under a higher load is slowed, TRL more than ours (its many small ops suffer more from contended OpenMP barriers), so rows where the two loads differ much are not a fair ratio.',
    '- The targets (≥ 2× tokens/s, ≤ 0.6× peak RSS) are meant for a quiet machine. When the load average is above the core count, TRL slows far more than ours so the tokens/s ratios then overstate the gap: rerun on a quiet machine for the verdict.',
    '- tokens/s: non-pad tokens of the chosen and rejected sequences (prompt included) over the wall time of the timed steps, reference work included. MFU: (6·N per trained token + 2·N per reference-forwarded token) / time / a matmul peak of the same dtype measured in the same process; N = matmul parameters (decoder linears + LM head).',
    '',
    'Commands:',
    '',
    '```sh',
    ...rows.flatMap((r) => r.commands),
    '```',
    '',
    table(),
    '',
  ];
  for (const r of rows) for (const e of r.errors) lines.push(`- ${r.dtype}: ${e}`);
  if (rows.some((r) => r.errors.length)) lines.push('');
  const file = path.join(root, 'docs', 'benchmarks.md');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  writeFileSync(file, replaceMarkedBlock(old, 'trl-throughput', lines.join('\n'), 'bench/run.mjs --record'));
  log(`recorded in ${path.relative(root, file)}`);
}
