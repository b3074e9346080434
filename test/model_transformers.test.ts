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

      const greedy = await model.generate(want.greedy.map((g) => g.prompt), { maxNewTokens: 8 });
      t.deepEqual(greedy, want.greedy.map((g) => g.tokens));
    } finally {
      model.dispose();
    }
  });
}

test('bfloat16: every architecture runs and stays near transformers in bfloat16', async (t) => {
  for (const name of MODELS) {
    const want = expected(name);
    const model = await CausalLM.load(path.join(FIXTURES, name), { dtype: 'bfloat16' });
    t.is(model.config.dtype, 'bfloat16');
    const got = await model.logits(want.bf16_logits.map((l) => l.tokens));
    let maxDiff = 0;
    want.bf16_logits.forEach((l, i) => {
      l.positions.forEach((p, j) => {
        l.values[j]!.forEach((v, k) => {
          const g = got[i]![p]![k]!;
          t.true(Number.isFinite(g));
          maxDiff = Math.max(maxDiff, Math.abs(g - v));
        });
      });
    });
    t.log(`${name}: bf16 max |logit diff| ${maxDiff.toFixed(4)}`);
    t.true(maxDiff <= 0.05, `${name}: bf16 max |logit diff| ${maxDiff}`);
    const sums = await model.sequenceLogprobs(packSequences(want.groups));
    want.groups.flatMap((g) => g.logprob_sums).forEach((w, i) => t.true(Math.abs(sums.sum[i]! - w) / Math.abs(w) < 0.02));
    model.dispose();
  }
});
