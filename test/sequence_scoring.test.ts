// One scoring path: sequenceLogprobs (eval, the logprobs command) scores through
// training's path (core/sequence_scoring.h: the fused chunked output layer under the compute
// dtype's autocast), so with a run's settings it gives exactly the numbers training's reference
// pass gives. It used to build the full [N, vocab] float32 logits without autocast, so its bf16
// numbers and its memory differed from training's.
import test from 'ava';
import path from 'node:path';
import { CausalLM, loadNative } from '../lib/index.js';
import { packPreferenceBatch } from '../lib/train/preference_batch.js';

const native = loadNative();
const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'models');
const PAIRS = [
  { promptIds: [5, 6, 7, 8], chosenIds: [20, 30, 40, 2], rejectedIds: [21, 31, 2] },
  { promptIds: [9, 10], chosenIds: [50, 60, 70, 80, 90, 2], rejectedIds: [55, 2] },
];

// Σ log softmax(logits) at each completion token, from the model's own logits in float64.
async function logitsReference(model: CausalLM, prompt: number[], completion: number[]): Promise<number> {
  const seq = prompt.concat(completion);
  const rows = (await model.logits([seq]))[0]!;
  let sum = 0;
  for (let i = prompt.length; i < seq.length; i++) {
    const row = rows[i - 1]!;
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    sum += row[seq[i]!]! - max - Math.log(z);
  }
  return sum;
}

for (const name of ['llama', 'gemma2']) {
  test(`${name}: sequenceLogprobs is training's scoring, in float32 and under bf16 autocast`, async (t) => {
    const model = await CausalLM.load(path.join(FIXTURES, name));
    t.teardown(() => model.dispose());
    const batch = packPreferenceBatch(
      PAIRS.map((pair) => ({ pair })),
      { rejected: true, rationale: false },
    );
    const B = PAIRS.length;
    const sums: Record<string, number[]> = {};
    for (const computeDtype of ['float32', 'bfloat16'] as const) {
      const options = { computeDtype, logitsChunk: 3 };
      const scored = await model.sequenceLogprobs(batch, options);
      const ref = await native.referenceLogps(model.nativeHandle, batch, options);
      t.deepEqual(Array.from(scored.sum.subarray(0, B)), Array.from(ref.chosen), `${computeDtype}: chosen as training's reference pass`);
      t.deepEqual(Array.from(scored.sum.subarray(B, 2 * B)), Array.from(ref.rejected), `${computeDtype}: rejected as training's reference pass`);
      t.deepEqual(Array.from(scored.count), [...PAIRS.map((p) => p.chosenIds.length), ...PAIRS.map((p) => p.rejectedIds.length)]);
      sums[computeDtype] = Array.from(scored.sum);
    }
    t.notDeepEqual(sums.bfloat16, sums.float32, 'the compute dtype is applied');
    // The default is float32, and float32 agrees with log_softmax over the model's full logits.
    t.deepEqual(Array.from((await model.sequenceLogprobs(batch, { logitsChunk: 3 })).sum), sums.float32);
    for (const [i, p] of PAIRS.entries()) {
      for (const [k, completion] of [
        [i, p.chosenIds],
        [B + i, p.rejectedIds],
      ] as const) {
        const want = await logitsReference(model, p.promptIds, completion);
        const got = sums.float32![k]!;
        t.true(Math.abs(got - want) <= 1e-4 * Math.max(1, Math.abs(want)), `sequence ${k}: ${got} vs logits + log_softmax ${want}`);
        t.true(Math.abs(sums.bfloat16![k]! - want) <= 0.05 * Math.max(1, Math.abs(want)), `bf16 sequence ${k} is close`);
      }
    }
  });
}

test('sequenceLogprobs checks its options like the rest of the boundary', async (t) => {
  const model = await CausalLM.load(path.join(FIXTURES, 'llama'));
  t.teardown(() => model.dispose());
  const batch = packPreferenceBatch([{ pair: PAIRS[0]! }], { rejected: true, rationale: false });
  t.throws(() => model.nativeHandle.sequenceLogprobs(batch, { logitsChunk: 0 }), { instanceOf: RangeError, message: /logitsChunk/ });
  t.throws(() => model.nativeHandle.sequenceLogprobs(batch, { computeDtype: 5 as never }), { instanceOf: TypeError, message: /computeDtype/ });
  await t.throwsAsync(model.nativeHandle.sequenceLogprobs(batch, { computeDtype: 'float8' as never }), { instanceOf: TypeError, message: /float8/ });
});
