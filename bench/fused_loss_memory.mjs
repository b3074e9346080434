#!/usr/bin/env node
// Loss-stage peak memory, fused chunked output layer vs plain autograd, as N × V grows.
// Measures forward + backward of token log-probs for hidden [N, H] and lm_head [V, H] on the CPU
// with a counting wrapper around LibTorch's CPU allocator (core/cpu_allocation_meter.h): the
// bytes of tensors live at the peak, gradients included, inputs excluded.
//
//   npx tsc -p . && node bench/fused_loss_memory.mjs [--n 512,1024,2048,4096,8192] [--v 32000,50000]
//       [--h 576] [--chunk 1024] [--max-unfused-gib 8] [--write]
//
// --write replaces the "Fused loss memory" section of docs/benchmarks.md (creating the file).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const loadPath = path.join(root, 'dist', 'native', 'load.js');
if (!existsSync(loadPath)) {
  console.error('bench/fused_loss_memory.mjs: dist/ is missing; run `npx tsc -p .` first');
  process.exit(1);
}
const { loadNative } = await import(loadPath);
const native = loadNative();

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = process.argv[i + 1];
  if (value === undefined || value.startsWith('--')) {
    console.error(`--${name} needs a value`);
    process.exit(2);
  }
  return value;
}
const list = (s, name) =>
  s.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`--${name}: "${x}" is not a positive integer`);
      process.exit(2);
    }
    return n;
  });

const ns = list(option('n', '512,1024,2048,4096,8192'), 'n');
const vs = list(option('v', '32000,50000'), 'v');
const h = list(option('h', '576'), 'h')[0];
const chunk = list(option('chunk', '1024'), 'chunk')[0];
const maxUnfusedGib = Number(option('max-unfused-gib', '8'));
const write = process.argv.includes('--write');

const mib = (b) => (b / 2 ** 20).toFixed(1);
const rows = [];
console.log(`loss-stage peak CPU tensor memory, H=${h}, chunk=${chunk}, float32`);
console.log('N\tV\tunfused MiB\tfused MiB\tunfused/fused\tunfused s\tfused s');
for (const v of vs) {
  for (const n of ns) {
    const fused = await native.testing.fusedLogprobsPeakMemory({ n, h, v, chunk, fused: true });
    // The unfused path holds logits, log-softmax and their gradient: ~3 × N × V × 4 bytes.
    const estimate = 3 * n * v * 4;
    const unfused = estimate <= maxUnfusedGib * 2 ** 30 ? await native.testing.fusedLogprobsPeakMemory({ n, h, v, chunk, fused: false }) : undefined;
    const row = { n, v, fused, unfused };
    rows.push(row);
    console.log(
      [
        n,
        v,
        unfused ? mib(unfused.peakBytes) : 'skipped',
        mib(fused.peakBytes),
        unfused ? (unfused.peakBytes / fused.peakBytes).toFixed(1) : '-',
        unfused ? unfused.seconds.toFixed(2) : '-',
        fused.seconds.toFixed(2),
      ].join('\t'),
    );
  }
}

if (write) {
  const info = native.runtimeInfo();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const command = `node bench/fused_loss_memory.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const table = [
    '| N | V | N × V | unfused peak (MiB) | fused peak (MiB) | unfused / fused | unfused s | fused s |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      ({ n, v, fused, unfused }) =>
        `| ${n} | ${v} | ${((n * v) / 1e6).toFixed(1)}M | ${unfused ? mib(unfused.peakBytes) : `skipped (> ${maxUnfusedGib} GiB est.)`} | ` +
        `${mib(fused.peakBytes)} | ${unfused ? (unfused.peakBytes / fused.peakBytes).toFixed(1) + '×' : '-'} | ` +
        `${unfused ? unfused.seconds.toFixed(2) : '-'} | ${fused.seconds.toFixed(2)} |`,
    ),
  ].join('\n');
  const section = [
    '<!-- fused-loss-memory:start (written by bench/fused_loss_memory.mjs --write) -->',
    '## Fused loss memory',
    '',
    `Peak memory of the loss stage alone — token log-probs forward and backward for hidden rows [N, H=${h}]`,
    `and an LM head [V, H], float32 — on the CPU. The fused path (\`fused_token_logprobs\`, chunk ${chunk} rows)`,
    'keeps one chunk of logits plus a float32 grad_weight; the unfused path (plain autograd) keeps the [N, V]',
    "logits, their log-softmax and gradient. Measured by a counting wrapper around LibTorch's CPU allocator",
    '(`core/cpu_allocation_meter.h`): bytes of tensors live at the peak, the gradients w.r.t. hidden and',
    'weight included, the inputs excluded; memory the BLAS library allocates internally is not seen.',
    '',
    table,
    '',
    "The fused peak does not depend on N: about two chunks of float32 logits (the chunk and logsumexp's",
    'temporary), the float32 grad_weight (V × H × 4 bytes) and grad_hidden. A smaller `chunk_size` lowers it',
    'further. Times are wall-clock on the machine below (shared, noisy); the fused path recomputes each',
    "chunk's logits in backward, so it does one extra matmul.",
    '',
    `- Machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.platform()} ${os.release()}`,
    `- LibTorch ${info.torchVersion} (${info.cpuCapability}, ${info.intraOpThreads} intra-op threads), Node ${process.version}`,
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
    `- Command: \`npx tsc -p . && ${command}\``,
    '<!-- fused-loss-memory:end -->',
  ].join('\n');
  const doc = path.join(root, 'docs', 'benchmarks.md');
  let text = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n';
  const re = /<!-- fused-loss-memory:start[\s\S]*?<!-- fused-loss-memory:end -->/;
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(doc, text);
  console.log(`wrote the "Fused loss memory" section of ${path.relative(root, doc)}`);
}
