#!/usr/bin/env node
// The memory plan against measured peaks: for each configuration, `rdpo-native plan …` (the
// predicted per-rank peak) and then the same `train … --max-steps N` under /usr/bin/time -v (the
// process's maximum resident set size), side by side with the relative error.
//
//   node bench/memory_plan_check.mjs [--only name,…] [--steps 2] [--write]
//   node bench/memory_plan_check.mjs --case 'name|flag flag …' …   (extra cases; repeatable)
//
// Default cases use the bench model and pairs (bench/.cache/, made by `node bench/run.mjs` once).
// --write replaces the "plan-vs-measured" block of docs/memory_plan.md. Peak RSS does not depend on
// load, but a case runs minutes on 2 cores: run it when nothing else is using the memory.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { replaceMarkedBlock } from './doc_section.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    only: { type: 'string' },
    steps: { type: 'string', default: '2' },
    case: { type: 'string', multiple: true, default: [] },
    write: { type: 'boolean', default: false },
  },
});

const model = 'bench/.cache/smollm2-135m-random';
const data = 'bench/.cache/hh-bench-pairs.jsonl';
// --limit = the batch size: the one micro-batch is the largest the plan assumes (its `batch-size`
// longest pairs), so the measured run does reach the planned peak.
const common = ['--model', model, '--data', data, '--loss', 'dpo', '--max-length', '1024', '--eval-size', '0', '--save-every', '0', '--warmup-steps', '0'];
const cases = [
  { name: 'full fp32 b2', args: [...common, '--dtype', 'float32', '--batch-size', '2', '--limit', '2'] },
  { name: 'full bf16 b2', args: [...common, '--dtype', 'bfloat16', '--batch-size', '2', '--limit', '2'] },
  { name: 'full fp32 b8', args: [...common, '--dtype', 'float32', '--batch-size', '8', '--limit', '8'] },
  { name: 'full bf16 b8', args: [...common, '--dtype', 'bfloat16', '--batch-size', '8', '--limit', '8'] },
  { name: 'full bf16 b8 ckpt', args: [...common, '--dtype', 'bfloat16', '--batch-size', '8', '--limit', '8', '--gradient-checkpointing'] },
  { name: 'LoRA r16 bf16 b8', args: [...common, '--dtype', 'bfloat16', '--batch-size', '8', '--limit', '8', '--lora-r', '16', '--lora-alpha', '32'] },
  {
    name: 'LoRA r16 fp32 b8 ckpt',
    args: [...common, '--dtype', 'float32', '--batch-size', '8', '--limit', '8', '--lora-r', '16', '--lora-alpha', '32', '--gradient-checkpointing'],
  },
  ...a.case.map((c) => {
    const [name, flags] = c.split('|');
    if (!name || !flags) throw new Error(`--case "${c}": write it as 'name|--model DIR --data FILE …'`);
    return { name, args: flags.trim().split(/\s+/) };
  }),
];
const only = a.only ? new Set(a.only.split(',')) : undefined;
const cli = path.join(root, 'bin', 'rdpo-native.js');
const GIB = 2 ** 30;

const rows = [];
for (const c of cases) {
  if (only && !only.has(c.name)) continue;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'rdpo-plan-check-'));
  try {
    const env = { ...process.env, RDPO_CACHE_DIR: path.join(tmp, 'cache') };
    const plan = spawnSync(process.execPath, [cli, 'plan', ...c.args], { cwd: root, env, encoding: 'utf8' });
    const m = /peak per rank: ([\d.]+) GiB/.exec(plan.stdout);
    if (!m) throw new Error(`${c.name}: plan failed (exit ${plan.status}):\n${plan.stdout}${plan.stderr}`);
    const predicted = Number(m[1]) * GIB;
    process.stderr.write(`${c.name}: plan ${m[1]} GiB; training ${a.steps} steps …\n`);
    const run = spawnSync('/usr/bin/time', ['-v', process.execPath, cli, 'train', ...c.args, '--max-steps', a.steps, '--out', path.join(tmp, 'run')], {
      cwd: root,
      env,
      encoding: 'utf8',
    });
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(run.stderr);
    if (run.status !== 0 || !rss) throw new Error(`${c.name}: training failed (exit ${run.status}):\n${run.stderr.slice(-3000)}`);
    const measured = Number(rss[1]) * 1024;
    rows.push({ name: c.name, args: c.args.join(' '), predicted, measured, error: predicted / measured - 1, plan: plan.stdout });
    process.stderr.write(`  measured ${(measured / GIB).toFixed(2)} GiB (plan ${((predicted / measured - 1) * 100).toFixed(1)}%)\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const table = [
  '| case | plan GiB | measured peak RSS GiB | plan error |',
  '|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.name} | ${(r.predicted / GIB).toFixed(2)} | ${(r.measured / GIB).toFixed(2)} | ${(r.error * 100).toFixed(1)}% |`),
].join('\n');
console.log(table);
if (a.write) {
  const file = path.join(root, 'docs', 'memory_plan.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Memory plan\n';
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus()[0]?.model.trim()} (${os.cpus().length} cores, ${(os.totalmem() / GIB).toFixed(0)} GiB), \`node bench/memory_plan_check.mjs --steps ${a.steps}\`: each case's \`rdpo-native plan\` figure, then \`train … --max-steps ${a.steps}\` under \`/usr/bin/time -v\` (maximum resident set size of the process).`,
    '',
    table,
    '',
    'Flags of each case:',
    '',
    ...rows.map((r) => `- ${r.name}: \`${r.args}\``),
  ].join('\n');
  writeFileSync(file, replaceMarkedBlock(text, 'plan-vs-measured', body, 'bench/memory_plan_check.mjs --write'));
  console.log(`recorded in ${path.relative(root, file)}`);
}
