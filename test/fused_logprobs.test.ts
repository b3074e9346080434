// The fused chunked output layer (native/core/token_logprobs.cpp) against plain autograd:
// same log-probs and gradients, and a loss stage whose memory does not grow with N × V.
import test from 'ava';
import { loadNative } from '../lib/native/load.js';
import type { NativeBinding } from '../lib/native/binding.js';

const native = loadNative();
const loose = native as unknown as Record<keyof NativeBinding, (...args: unknown[]) => unknown>;

const float32Shapes = [
  { n: 300, h: 64, v: 1000, chunk: 128, seed: 1 },   // N not divisible by the chunk
  { n: 300, h: 64, v: 1000, chunk: 1024, seed: 2 },  // one chunk holds everything
  { n: 97, h: 32, v: 517, chunk: 1, seed: 3 },       // one row per chunk
  { n: 512, h: 128, v: 4096, chunk: 100, seed: 4 },  // larger vocabulary, ragged last chunk
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

test('bfloat16 runs and stays within bf16 rounding of the unfused path', (t) => {
  const e = native.fusedLogprobsCheck({ n: 300, h: 64, v: 1000, chunk: 128, dtype: 'bfloat16', seed: 5 });
  t.log(e);
  // Values: same bf16 matmul, float32 softmax on both sides. grad_weight: the fused path sums
  // chunks in float32 and rounds once, the unfused one rounds its bf16 matmul output (eps 2^-8).
  for (const [k, v] of Object.entries(e)) t.true(Number.isFinite(v) && v <= 2e-2, `${k} ${v}`);
});

test('fused loss-stage memory stays flat while unfused grows with N × V', async (t) => {
  const h = 64, v = 4000, chunk = 128;
  const peak = async (n: number, fused: boolean) => (await native.fusedLogprobsPeakMemory({ n, h, v, chunk, fused })).peakBytes;
  const fusedSmall = await peak(256, true), fusedLarge = await peak(2048, true);
  const unfusedSmall = await peak(256, false), unfusedLarge = await peak(2048, false);
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
