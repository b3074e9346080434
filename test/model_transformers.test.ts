// The native models against numbers Hugging Face transformers computed for the same tiny
// checkpoints (scripts/fixtures/make_model_fixtures.py writes test/fixtures/models/*): Llama (tied,
// and Llama 3.1 rope scaling), Mistral (sliding window), Qwen2, GPT-2, Qwen3 (q/k norm), Phi-3 (fused
// projections; partial rotary; sliding window), Gemma 2 (soft-capping, alternating windows; eager
// attention) and Gemma 3 text in both config forms. The packed log-prob sums cross the sliding
// windows inside packed groups.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CausalLM, packSequences } from '../lib/index.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'models');
const MODELS = ['llama', 'llama3', 'mistral', 'qwen2', 'gpt2', 'qwen3', 'phi3', 'phi3-legacy', 'gemma2', 'gemma3', 'gemma3-legacy'];
// Fixture name -> the model_type its config.json states.
const MODEL_TYPE: Record<string, string> = { llama3: 'llama', 'phi3-legacy': 'phi3', gemma3: 'gemma3_text', 'gemma3-legacy': 'gemma3_text' };

interface Expected {
  logits: Array<{ tokens: number[]; positions: number[]; values: number[][] }>;
  bf16_logits: Array<{ tokens: number[]; positions: number[]; values: number[][] }>;
  groups: Array<{ prompt: number[]; completions: number[][]; logprob_sums: number[] }>;
  greedy: Array<{ prompt: number[]; max_new_tokens: number; tokens: number[] }>;
  /** LongRoPE fixtures: one sequence beyond original_max_position_embeddings (the long factors). */
  long_logits?: { tokens: number[]; positions: number[]; values: number[][] };
}

function expected(name: string): Expected {
  return JSON.parse(readFileSync(path.join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
}

for (const name of MODELS) {
  test(`${name}: float32 logits, summed log-probs and greedy tokens match transformers`, async (t) => {
    const want = expected(name);
    const model = await CausalLM.load(path.join(FIXTURES, name));
    try {
      t.is(model.config.modelType, MODEL_TYPE[name] ?? name);
      const got = await model.logits(want.logits.map((l) => l.tokens));
      let maxDiff = 0;
      want.logits.forEach((l, i) => {
        l.positions.forEach((p, j) => {
          const row = got[i]![p]!;
          l.values[j]!.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(row[k]! - v))));
        });
      });
      t.log(`max |logit diff| ${maxDiff.toExponential(2)}`);
      t.true(maxDiff <= 1e-4, `max |logit diff| ${maxDiff}`);
      if (want.long_logits) {
        const long = want.long_logits;
        const [rows] = await model.logits([long.tokens]);
        let longDiff = 0;
        long.positions.forEach((p, j) => long.values[j]!.forEach((v, k) => (longDiff = Math.max(longDiff, Math.abs(rows![p]![k]! - v)))));
        t.true(longDiff <= 1e-4, `long context: max |logit diff| ${longDiff}`);
      }

      const sums = await model.sequenceLogprobs(packSequences(want.groups));
      const wantSums = want.groups.flatMap((g) => g.logprob_sums);
      const wantCounts = want.groups.flatMap((g) => g.completions.map((c) => c.length));
      t.is(sums.sum.length, wantSums.length);
      wantSums.forEach((w, i) => {
        const rel = Math.abs(sums.sum[i]! - w) / Math.max(1, Math.abs(w));
        t.true(rel <= 1e-5, `sequence ${i}: ${sums.sum[i]} vs ${w} (rel ${rel})`);
      });
      t.deepEqual(Array.from(sums.count), wantCounts);

      const greedy = await model.generate(
        want.greedy.map((g) => g.prompt),
        { maxNewTokens: 8 },
      );
      t.deepEqual(
        greedy,
        want.greedy.map((g) => g.tokens),
      );
    } finally {
      model.dispose();
    }
  });
}

/** One bf16 ulp at |x|: bf16 keeps 8 significant bits. */
const bf16Ulp = (x: number) => 2 ** (Math.floor(Math.log2(Math.max(Math.abs(x), 2 ** -126))) - 7);

// bf16 rounding depends on the kernels' order of operations, which differs between CPUs with native
// bf16 (AVX512-BF16, AMX), AVX2-only CPUs (emulated) and transformers: on an AVX2 CPU gemma3's bf16
// logits are 0.094 from transformers' bf16 ones, yet exactly as far from the float32 logits (0.306)
// as transformers' own bf16 is. So the yardstick is the float32 reference: per logit row, our bf16
// error may exceed transformers' bf16 error on that row by at most 2 bf16 ulps of the row's largest
// |logit| (the measured excess is at most 0.9 ulp under native, AVX2 and default dispatch). A real
// difference in the model (a wrong soft-cap, norm or rotary) is many ulps off.
test("bfloat16: every architecture runs and is no further from the float32 logits than transformers' bf16, within 2 ulps", async (t) => {
  for (const name of MODELS) {
    const want = expected(name);
    const model = await CausalLM.load(path.join(FIXTURES, name), { dtype: 'bfloat16' });
    t.is(model.config.dtype, 'bfloat16');
    t.deepEqual(
      want.bf16_logits.map((l) => l.tokens),
      want.logits.map((l) => l.tokens),
      `${name}: fixture rows differ`,
    );
    const got = await model.logits(want.bf16_logits.map((l) => l.tokens));
    let worstExcess = -Infinity;
    want.bf16_logits.forEach((l, i) => {
      l.positions.forEach((p, j) => {
        const f32 = want.logits[i]!.values[j]!;
        const ulp = bf16Ulp(Math.max(...f32.map(Math.abs)));
        let ours = 0;
        let theirs = 0;
        l.values[j]!.forEach((v, k) => {
          const g = got[i]![p]![k]!;
          t.true(Number.isFinite(g));
          ours = Math.max(ours, Math.abs(g - f32[k]!));
          theirs = Math.max(theirs, Math.abs(v - f32[k]!));
        });
        worstExcess = Math.max(worstExcess, (ours - theirs) / ulp);
      });
    });
    t.log(`${name}: bf16 error beyond transformers' bf16, worst row ${worstExcess.toFixed(2)} ulps`);
    t.true(worstExcess <= 2, `${name}: bf16 logits ${worstExcess.toFixed(2)} bf16 ulps further from float32 than transformers' bf16`);
    const sums = await model.sequenceLogprobs(packSequences(want.groups));
    want.groups.flatMap((g) => g.logprob_sums).forEach((w, i) => t.true(Math.abs(sums.sum[i]! - w) / Math.abs(w) < 0.02));
    model.dispose();
  }
});
