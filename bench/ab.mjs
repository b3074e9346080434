#!/usr/bin/env node
// A/B of a performance lever inside one process, robust to a busy machine: the two settings
// alternate step by step (A B, B A, A B …) on the same batches, one intra-op thread by default, and
// each step is measured in process CPU seconds (user + sys) as well as wall seconds. Other
// processes on the machine inflate wall time but hardly CPU time, and whatever drift remains hits
// both sides alike. A step = the reference forward for its pairs + accumulate (forward, loss,
// backward) + optimiser step, as the trainer runs them.
//
//   node bench/ab.mjs --lever NAME [--a false] [--b true] [--dtype bfloat16] [--batch 2] [--rounds 6]
//                     [--warmup 1] [--threads 1] [--model DIR] [--data FILE] [--json]
//
// NAME is a key of native.perfOptions() (core/perf_options.h); --a/--b its two values (default: the
// lever off vs on). Prints per-round CPU seconds and the median paired ratio B/A (< 1: B is faster).
// Needs the compiled TypeScript (npx tsc -p tsconfig.json) and the built addon.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (m) => import(path.join(root, 'dist', m));
const { values: a } = parseArgs({
  options: {
    lever: { type: 'string' },
    a: { type: 'string', default: 'false' },
    b: { type: 'string', default: 'true' },
    dtype: { type: 'string', default: 'bfloat16' },
    batch: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1' },
    model: { type: 'string', default: path.join(root, 'bench', '.cache', 'smollm2-135m-random') },
    data: { type: 'string', default: path.join(root, 'bench', '.cache', 'hh-bench-pairs.jsonl') },
    'max-length': { type: 'string', default: '1024' },
    json: { type: 'boolean', default: false },
  },
});
const fail = (m) => {
  console.error(`bench/ab.mjs: ${m}`);
  process.exit(2);
};
const { loadNative } = await dist('native/load.js');
const native = loadNative();
const options = native.perfOptions();
if (!a.lever || !(a.lever in options)) fail(`--lever must be one of ${Object.keys(options).join(', ')}, got "${a.lever ?? ''}"`);
const parse = (v) => (v === 'true' ? true : v === 'false' ? false : Number(v));
const settings = { A: parse(a.a), B: parse(a.b) };
const batch = Number(a.batch),
  rounds = Number(a.rounds),
  warmup = Number(a.warmup);
native.setNumThreads(Number(a.threads));

const { loadPreferences } = await dist('data/load.js');
const { CausalLM } = await dist('model/causal_lm.js');
const { Tokenizer } = await dist('tokenize/tokenizer.js');
const { nativeTrainerOptions, resolveTrainConfig } = await dist('train/config.js');
const { prepareTrainingData } = await dist('train/dataset.js');
const { packPreferenceBatch } = await dist('train/preference_batch.js');

const config = resolveTrainConfig({
  model: a.model,
  data: a.data,
  loss: 'dpo',
  beta: 0.1,
  lr: 5e-7,
  schedule: 'constant',
  warmupSteps: 0,
  batchSize: batch,
  maxLength: Number(a['max-length']),
  maxPromptLength: 512,
  dtype: a.dtype,
  device: 'cpu',
  seed: 0,
  refCache: false,
});
const { pairs } = await loadPreferences(a.data);
const n = Math.min(pairs.length - (pairs.length % batch), 8 * batch);
const fileIndex = new Map(pairs.slice(0, n).map((p, i) => [p.id, i]));
const data = await prepareTrainingData(Tokenizer.load(a.model), {
  data: pairs.slice(0, n),
  seed: 0,
  maxLength: config.maxLength,
  maxPromptLength: config.maxPromptLength,
  rationale: false,
});
const examples = [...data.train].sort((x, y) => fileIndex.get(x.id) - fileIndex.get(y.id));
const batches = [];
for (let i = 0; i + batch <= examples.length; i += batch) batches.push(examples.slice(i, i + batch));

const ref = await CausalLM.load(a.model, { dtype: 'float32', device: 'cpu' });
const policy = await CausalLM.load(a.model, { dtype: 'float32', device: 'cpu' });
const trainer = await native.createTrainer(policy.nativeHandle, nativeTrainerOptions(config));

async function step(i) {
  const ex = batches[i % batches.length];
  const packed = packPreferenceBatch(ex, { rejected: true, rationale: false });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await native.referenceLogps(ref.nativeHandle, packed, { computeDtype: config.dtype, logitsChunk: config.logitsChunk });
  await trainer.accumulate({ ...packed, refChosen: r.chosen, refRejected: r.rejected }, 1);
  await trainer.step(config.lr, config.maxGradNorm);
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - t0) / 1000, tokens: packed.pairTokens };
}

const median = (v) => {
  const s = [...v].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const out = { A: [], B: [] };
const loads = [os.loadavg()[0]];
for (let w = 0; w < warmup; w++)
  for (const v of ['A', 'B']) {
    native.setPerfOptions({ [a.lever]: settings[v] });
    await step(w);
  }
for (let r = 0; r < rounds; r++) {
  for (const v of r % 2 ? ['B', 'A'] : ['A', 'B']) {
    native.setPerfOptions({ [a.lever]: settings[v] });
    out[v].push(await step(warmup + r));
  }
}
loads.push(os.loadavg()[0]);
native.setPerfOptions(options);
const ratios = out.A.map((x, i) => out.B[i].cpu / x.cpu);
const summary = {
  lever: a.lever,
  A: settings.A,
  B: settings.B,
  dtype: a.dtype,
  batch,
  threads: Number(a.threads),
  rounds,
  cpu_s: { A: median(out.A.map((x) => x.cpu)), B: median(out.B.map((x) => x.cpu)) },
  wall_s: { A: median(out.A.map((x) => x.wall)), B: median(out.B.map((x) => x.wall)) },
  paired_cpu_ratio_B_over_A: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
  load_avg_1m: loads,
  runs: out,
};
if (a.json) console.log(JSON.stringify(summary));
else {
  for (let r = 0; r < rounds; r++)
    console.log(
      `round ${r + 1}: A ${out.A[r].cpu.toFixed(3)} CPU s (${out.A[r].wall.toFixed(3)} wall)   B ${out.B[r].cpu.toFixed(3)} CPU s (${out.B[r].wall.toFixed(3)} wall)   B/A ${ratios[r].toFixed(3)}`,
    );
  console.log(
    `${a.lever}: A=${settings.A} ${summary.cpu_s.A.toFixed(3)} CPU s/step, B=${settings.B} ${summary.cpu_s.B.toFixed(3)} CPU s/step (medians); ` +
      `paired B/A median ${summary.paired_cpu_ratio_B_over_A.median.toFixed(3)} [${summary.paired_cpu_ratio_B_over_A.min.toFixed(3)}, ${summary.paired_cpu_ratio_B_over_A.max.toFixed(3)}]; ` +
      `${a.dtype}, batch ${batch}, ${a.threads} thread(s), load ${loads.map((l) => l.toFixed(1)).join('→')}`,
  );
}
policy.dispose();
ref.dispose();
