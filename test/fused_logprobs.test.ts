// The fused chunked output layer (native/core/model/token_logprobs.cpp) against plain autograd:
// same log-probs and gradients, and a loss stage whose memory does not grow with N × V.
import test from 'ava';
import { loadNative } from '../lib/native/load.js';
import type { NativeTestingHooks } from '../lib/native/binding.js';

const native = loadNative().testing;
const loose = native as unknown as Record<keyof NativeTestingHooks, (...args: unknown[]) => unknown>;

const float32Shapes = [
  { n: 300, h: 64, v: 1000, chunk: 128, seed: 1 }, // N not divisible by the chunk
  { n: 300, h: 64, v: 1000, chunk: 1024, seed: 2 }, // one chunk holds everything
  { n: 97, h: 32, v: 517, chunk: 1, seed: 3 }, // one row per chunk
  { n: 512, h: 128, v: 4096, chunk: 100, seed: 4 }, // larger vocabulary, ragged last chunk
];

for (const shape of float32Shapes) {
  test(`float32 fused equals unfused within 1e-5: ${JSON.stringify(shape)}`, (t) => {
    const e = native.fusedLogprobsCheck({ ...shape, dtype: 'float32' });
    t.log(e);
    t.true(e.values <= 1e-5, `values ${e.values}`);
    t.true(e.gradHidden <= 1e-5, `grad hidden ${e.gradHidden}`);
    t.true(e.gradWeight <= 1e-5, `grad weight ${e.gradWeight}`);
  });
}

test('final-logit soft-capping (Gemma 2): fused equals unfused, values and gradients', (t) => {
  // The problem's logits spread a few units, so a cap of 2 bends most of them.
  const e = native.fusedLogprobsCheck({ n: 300, h: 64, v: 1000, chunk: 128, dtype: 'float32', seed: 6, softcap: 2 });
  t.log(e);
  t.true(e.values <= 1e-5, `values ${e.values}`);
  t.true(e.gradHidden <= 1e-5, `grad hidden ${e.gradHidden}`);
  t.true(e.gradWeight <= 1e-5, `grad weight ${e.gradWeight}`);
});

test('bfloat16 runs and stays within bf16 rounding of the unfused path', (t) => {
  const e = native.fusedLogprobsCheck({ n: 300, h: 64, v: 1000, chunk: 128, dtype: 'bfloat16', seed: 5 });
  t.log(e);
  // Values: same bf16 matmul, float32 softmax on both sides. grad_weight: the fused path sums
  // chunks in float32 and rounds once, the unfused one rounds its bf16 matmul output (eps 2^-8).
  for (const [k, v] of Object.entries(e)) t.true(Number.isFinite(v) && v <= 2e-2, `${k} ${v}`);
});

test('fused loss-stage memory stays flat while unfused grows with N × V', async (t) => {
  const h = 64,
    v = 4000,
    chunk = 128;
  const peak = async (n: number, fused: boolean) => (await native.fusedLogprobsPeakMemory({ n, h, v, chunk, fused })).peakBytes;
  const fusedSmall = await peak(256, true),
    fusedLarge = await peak(2048, true);
  const unfusedSmall = await peak(256, false),
    unfusedLarge = await peak(2048, false);
  t.log({ fusedSmall, fusedLarge, unfusedSmall, unfusedLarge });
  const logitsBytes = (n: number) => n * v * 4;
  t.true(unfusedLarge >= logitsBytes(2048), 'unfused holds at least the [N, V] float32 logits');
  t.true(unfusedLarge >= 6 * unfusedSmall, 'unfused grows ~linearly with N');
  // Fused: one chunk of logits plus the float32 grad_weight (V × H), plus the N × H grad_hidden.
  t.true(fusedLarge - fusedSmall <= (2048 - 256) * h * 4 * 2 + 1024, `fused grew by ${fusedLarge - fusedSmall} bytes`);
  t.true(fusedLarge < logitsBytes(2048) / 2, 'fused never holds the whole logits');
});

test('bad sizes are RangeErrors', (t) => {
  t.throws(() => native.fusedLogprobsCheck({ n: 0, h: 4, v: 4, chunk: 2 }), { instanceOf: RangeError });
  t.throws(() => loose.fusedLogprobsCheck({ n: 4, h: 4, v: 4, chunk: 2, dtype: 'int32' }), { instanceOf: TypeError, message: /floating/ });
  t.throws(() => native.fusedLogprobsPeakMemory({ n: 4, h: 4, v: 0, fused: true }), { instanceOf: RangeError, message: /'v'/ });
});

// An independent reference: log-softmax written out in float64 JavaScript.
function jsLogprobs(hidden: Float32Array, weight: Float32Array, targets: Int32Array, h: number): number[] {
  const v = weight.length / h;
  return Array.from(targets, (target, i) => {
    const logits = new Float64Array(v);
    for (let j = 0; j < v; j++) {
      let z = 0;
      for (let k = 0; k < h; k++) z += (hidden[i * h + k] ?? 0) * (weight[j * h + k] ?? 0);
      logits[j] = z;
    }
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((s, z) => s + Math.exp(z - max), 0));
    return (logits[target] ?? 0) - lse;
  });
}

test('fused and unfused log-probs equal a float64 JavaScript log-softmax', (t) => {
  const n = 37,
    h = 16,
    v = 211;
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const hidden = Float32Array.from({ length: n * h }, rand);
  const weight = Float32Array.from({ length: v * h }, () => rand() * 0.8);
  const targets = Int32Array.from({ length: n }, (_, i) => (i * 53) % v);
  const want = jsLogprobs(hidden, weight, targets, h);
  for (const fused of [true, false]) {
    const got = native.tokenLogprobs(hidden, weight, targets, { h, chunk: 8, fused });
    t.is(got.length, n);
    got.forEach((g, i) => t.true(Math.abs(g - (want[i] ?? 0)) <= 1e-5 * Math.abs(want[i] ?? 0) + 1e-6, `row ${i} fused=${fused}: ${g} vs ${want[i]}`));
  }
  t.throws(
    () =>
      native.tokenLogprobs(
        hidden,
        weight,
        Int32Array.from({ length: n }, () => v),
        { h },
      ),
    { instanceOf: RangeError, message: /target ids must lie in \[0, 211\)/ },
  );
  t.throws(() => native.tokenLogprobs(hidden, weight, new Int32Array(n - 1), { h }), { instanceOf: RangeError, message: /one entry per row/ });
});

test('reduceBySequence sums token log-probs and counts tokens per sequence', (t) => {
  const logps = Float32Array.from([-1, -0.5, -2, -0.25, -3]);
  const seq = Int32Array.from([0, 2, 0, 2, 3]);
  const r = native.reduceBySequence(logps, seq, 4);
  t.deepEqual(Array.from(r.sum), [-3, 0, -0.75, -3]);
  t.deepEqual(Array.from(r.count), [2, 0, 2, 1]);
  t.true(r.sum instanceof Float32Array);
  t.throws(() => native.reduceBySequence(logps, seq, 3), { instanceOf: RangeError, message: /\[0, 3\)/ });
});
