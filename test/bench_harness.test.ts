// The bench's measuring half: FLOP convention, timed-step accounting, the result's arithmetic,
// the machine probes (real addon) and the docs section rewrite used by `npm run bench --record`.
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decoderShape, matmulParams, readDecoderShape, trainingFlops } from '../lib/model/flops.js';
import { median, medianPhases, runTimedSteps, type StepSample } from '../lib/bench/harness.js';
import { measureMatmulPeak, peakDeviceMb, peakRssMb } from '../lib/bench/machine.js';
import { summarize } from '../lib/bench/result.js';
// @ts-expect-error: plain ESM helper of the bench driver, no type declarations
import { replaceMarkedBlock } from '../bench/doc_section.mjs';

// SmolLM2-135M's config.json values (the shape bench/make_bench_model.py writes).
const smollm2 = {
  model_type: 'llama',
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  vocab_size: 49152,
  tie_word_embeddings: true,
};

test('matmul parameters of SmolLM2-135M: every parameter but the 30·2+1 RMSNorm vectors', (t) => {
  const n = matmulParams(decoderShape(smollm2));
  // transformers counts 134,515,008 parameters for this shape; the norms hold (2·30 + 1)·576 of them.
  t.is(n, 134_515_008 - 61 * 576);
  t.is(trainingFlops(n, { trained: 10, reference: 10 }), 8 * n * 10);
  t.is(trainingFlops(n, { trained: 10, reference: 0 }), 6 * n * 10);
});

test('head_dim and num_key_value_heads default as in transformers; bad values name the file and key', (t) => {
  const s = decoderShape({ ...smollm2, num_key_value_heads: undefined });
  t.is(s.numKvHeads, 9);
  t.is(s.headDim, 64);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-cfg-'));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...smollm2, hidden_size: 0 }));
  const err = t.throws(() => readDecoderShape(dir));
  t.regex(err.message, /config\.json: "hidden_size" must be a positive integer/);
  t.throws(() => readDecoderShape(path.join(dir, 'missing')), { message: /cannot read the model config/ });
});

const sample = (pairTokens: number, extra: Partial<StepSample> = {}): StepSample => ({
  pairTokens,
  rationaleTokens: 0,
  referenceTokens: pairTokens,
  referenceOutsideSeconds: 0,
  ...extra,
});

test('runTimedSteps skips the warm-up, times each step and charges outside reference work to it', async (t) => {
  const seen: Array<[number, boolean]> = [];
  const run = await runTimedSteps(
    async (i) => {
      await new Promise((r) => setTimeout(r, 30));
      return sample(100 + i, { referenceOutsideSeconds: 0.5, phases: { forward: i } });
    },
    { warmup: 2, steps: 3, onStep: (i, _s, warm) => seen.push([i, warm]) },
  );
  t.deepEqual(seen, [
    [0, true],
    [1, true],
    [2, false],
    [3, false],
    [4, false],
  ]);
  t.deepEqual(
    run.samples.map((s) => s.pairTokens),
    [102, 103, 104],
  );
  t.is(run.stepSeconds.length, 3);
  for (const s of run.stepSeconds) t.true(s >= 0.5 + 0.025, `step ${s} s covers the 30 ms wait plus 0.5 s outside`);
  t.is(run.stepCpuSeconds.length, 3);
  for (const c of run.stepCpuSeconds) t.true(c >= 0 && c < 0.5, `a sleeping step uses little CPU (${c} s)`);
  t.deepEqual(medianPhases(run.samples), { forward: 3 });
  await t.throwsAsync(
    runTimedSteps(async () => sample(1), { warmup: 0, steps: 0 }),
    { instanceOf: RangeError },
  );
});

test('median of odd and even counts', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.throws(() => median([]), { instanceOf: RangeError });
});

test('summarize: tokens/s over the whole window, rationale tokens counted and reported apart, MFU', (t) => {
  const run = {
    warmupSteps: 1,
    stepSeconds: [2, 4, 3],
    stepCpuSeconds: [3, 7, 5],
    samples: [sample(500, { rationaleTokens: 100 }), sample(520, { rationaleTokens: 80 }), sample(530, { rationaleTokens: 70, referenceOutsideSeconds: 0.25 })],
  };
  const r = summarize(run, {
    loss: 'rdpo',
    dtype: 'float32',
    device: 'cpu',
    threads: 2,
    batchSize: 2,
    precomputeRef: true,
    matmulParams: 1000,
    matmulPeakFlops: 1e9,
    peakRssMb: 1234,
    peakCudaMb: null,
    versions: {},
    loadAvg1m: 0,
  });
  t.is(r.tokens, 1550 + 250);
  t.is(r.rationale_tokens, 250);
  t.is(r.window_s, 9);
  t.is(r.median_step_s, 3);
  t.is(r.tokens_per_sec, 1800 / 9);
  t.is(r.pair_tokens_per_sec, 1550 / 9);
  t.is(r.ref_precompute_s, 0.25);
  t.is(r.cpu_s, 15);
  t.is(r.pair_tokens_per_cpu_sec, 1550 / 15);
  t.is(r.flops, 6 * 1000 * 1800 + 2 * 1000 * 1550);
  t.is(r.mfu, r.flops / 9 / 1e9);
  t.is(r.tokens_per_step, 600);
  t.is(r.computed_tokens, null, 'no step reported the rows it computed');
  t.is(r.hardware_mfu, null);
});

test('summarize: hardware MFU over the rows actually computed (shared prompts once)', (t) => {
  const computedTokens = { policy: 300, reference: 280 };
  const run = { warmupSteps: 0, stepSeconds: [1, 1], stepCpuSeconds: [2, 2], samples: [sample(500, { computedTokens }), sample(500, { computedTokens })] };
  const r = summarize(run, {
    loss: 'dpo',
    dtype: 'bfloat16',
    device: 'cpu',
    threads: 2,
    batchSize: 2,
    precomputeRef: true,
    matmulParams: 10,
    matmulPeakFlops: 1e5,
    peakRssMb: 1,
    peakCudaMb: null,
    versions: {},
    loadAvg1m: 0,
  });
  t.deepEqual(r.computed_tokens, { policy: 600, reference: 560 });
  t.is(r.mfu, (8 * 10 * 1000) / 2 / 1e5);
  t.is(r.hardware_mfu, (6 * 10 * 600 + 2 * 10 * 560) / 2 / 1e5);
});

test('machine probes: a real matmul peak, the process RSS, no accelerator memory on cpu', async (t) => {
  const peak = await measureMatmulPeak({ dtype: 'float32', device: 'cpu', size: 128, iterations: 4 });
  t.true(peak > 1e6, `${peak} FLOP/s`);
  t.true(peakRssMb() > 20);
  t.is(peakDeviceMb('cpu'), null);
});

test("replaceMarkedBlock rewrites its own block and keeps the other benches' blocks", (t) => {
  const other =
    '<!-- fused-loss-memory:start (written by bench/fused_loss_memory.mjs --write) -->\n## Fused loss memory\n\nkeep me\n<!-- fused-loss-memory:end -->';
  const first: string = replaceMarkedBlock(`# Benchmarks\n\n${other}\n`, 'trl-throughput', '## Training throughput vs TRL\n\nold\n', 'bench/run.mjs --record');
  t.is(
    first,
    `# Benchmarks\n\n${other}\n\n<!-- trl-throughput:start (written by bench/run.mjs --record) -->\n## Training throughput vs TRL\n\nold\n<!-- trl-throughput:end -->\n`,
  );
  const swapped = first.replace(other, '').replace(/^# Benchmarks\n\n\n\n/, '# Benchmarks\n\n') + `\n${other}\n`;
  const second: string = replaceMarkedBlock(swapped, 'trl-throughput', '## Training throughput vs TRL\n\nnew', 'bench/run.mjs --record');
  t.true(second.includes('## Training throughput vs TRL\n\nnew\n<!-- trl-throughput:end -->'));
  t.false(second.includes('old'));
  t.true(second.endsWith(`${other}\n`), 'the block after ours is untouched');
  t.throws(() => replaceMarkedBlock('<!-- trl-throughput:start -->\nno end', 'trl-throughput', 'x'), { message: /no "<!-- trl-throughput:end -->"/ });
});
