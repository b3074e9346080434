#!/usr/bin/env node
// Where a step's time goes, from a trace that `rdpo-native bench --profile FILE` (or RDPO_PROFILE=FILE)
// wrote: per phase (reference, forward+backward, optimizer) and per kind of op, in ms per step.
//
//   node bench/profile_table.mjs TRACE.json [--warmup N] [--top 8] [--json]
//
// --warmup defaults to what bench recorded in the trace (its warm-up steps are left out).
// Needs the compiled TypeScript (npx tsc -p tsconfig.json).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { breakdown, formatBreakdown, formatTopOps } from '../dist/bench/profile_table.js';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: { warmup: { type: 'string' }, top: { type: 'string', default: '8' }, json: { type: 'boolean', default: false } },
});
if (positionals.length !== 1) {
  console.error('usage: node bench/profile_table.mjs TRACE.json [--warmup N] [--top 8] [--json]');
  process.exit(2);
}
const file = positionals[0];
let trace;
try {
  trace = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`bench/profile_table.mjs: ${file}: ${e.message} (pass a trace written by bench --profile or RDPO_PROFILE)`);
  process.exit(2);
}
const meta = trace.rdpoBench ?? {};
const warmup = a.warmup !== undefined ? Number(a.warmup) : (meta.warmup ?? 0);
const rows = breakdown(trace.traceEvents ?? [], { ...meta, warmup });
if (rows.length === 0) {
  console.error(
    `bench/profile_table.mjs: ${file} has no rdpo::reference / rdpo::forward_backward / rdpo::optimizer_step scopes; was it written by bench --profile with this build?`,
  );
  process.exit(1);
}
if (a.json) console.log(JSON.stringify({ meta, warmup, rows }, null, 2));
else {
  if (meta.dtype) console.log(`${meta.dtype}, batch ${meta.batchSize} pairs, ${meta.threads ?? '?'} threads; ${warmup} warm-up step(s) left out\n`);
  console.log(formatBreakdown(rows));
  console.log('\nTop ops by self time (ms per instance):\n' + formatTopOps(rows, Number(a.top)));
}
