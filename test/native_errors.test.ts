// Wrong calls from JS raise TypeError/RangeError/Error; none crashes the process.
import test from 'ava';
import { loadNative } from '../lib/native/load.js';
import type { NativeBinding, NativeTestingHooks } from '../lib/native/binding.js';

const native = loadNative();
// Deliberately wrong calls: bypass the static types.
const loose = native as unknown as Record<keyof NativeBinding, (...args: unknown[]) => unknown>;
const hooks = native.testing as unknown as Record<keyof NativeTestingHooks, (...args: unknown[]) => unknown>;

test('argument kinds are TypeErrors', (t) => {
  t.throws(() => hooks.addInPlace([1, 2, 3], 1), { instanceOf: TypeError, message: /typed array/ });
  t.throws(() => hooks.addInPlace(new Float32Array(2)), { instanceOf: TypeError, message: /value/ });
  t.throws(() => hooks.addInPlace(new Float32Array(2), 'x'), { instanceOf: TypeError });
  t.throws(() => hooks.addInPlace(new Uint16Array(2), 1), { instanceOf: TypeError, message: /bfloat16 or float16/ });
  t.throws(() => hooks.addInPlace(new Float32Array(2), 1, 'bfloat16'), { instanceOf: TypeError, message: /cannot hold/ });
  t.throws(() => hooks.addInPlace(new Float32Array(2), 1, 'float8'), { instanceOf: TypeError, message: /unknown dtype/ });
  t.throws(() => hooks.arange('ten'), { instanceOf: TypeError });
  t.throws(() => hooks.copyToNative(new Float32Array(6), 'not-a-shape'), { instanceOf: TypeError });
  t.throws(() => loose.measureMatmulPeak(), { instanceOf: TypeError });
  t.throws(() => new (native.testing.NativeTensor as unknown as new () => unknown)(), { instanceOf: TypeError });
});

test('bad values are RangeErrors', (t) => {
  t.throws(() => hooks.arange(-1), { instanceOf: RangeError });
  t.throws(() => hooks.arange(1.5), { instanceOf: RangeError });
  t.throws(() => hooks.arange(Number.NaN), { instanceOf: RangeError });
  t.throws(() => hooks.copyToNative(new Float32Array(6), [4, 2]), { instanceOf: RangeError, message: /6 elements/ });
  t.throws(() => hooks.copyToNative(new Float32Array(6), [-2, -3]), { instanceOf: RangeError });
  t.throws(() => loose.setNumThreads(0), { instanceOf: RangeError });
});

test('LibTorch errors reach JS as Error with a short message and no C++ backtrace', async (t) => {
  const err = await t.throwsAsync(loose.measureMatmulPeak(8, 1, 'float32', 'cuda:7') as Promise<unknown>);
  t.truthy(err);
  t.true(err instanceof Error);
  t.regex(err!.message, /cuda/i);
  t.notRegex(err!.message, /Exception raised from|frame #/);
  const bad = await t.throwsAsync(loose.measureMatmulPeak(8, 1, 'complex', 'cpu') as Promise<unknown>, { instanceOf: TypeError });
  t.regex(bad!.message, /unknown dtype 'complex'/);
});

test('the process is still healthy after the wrong calls', async (t) => {
  const r = await native.measureMatmulPeak(64, 2, 'float32', 'cpu');
  t.true(r.flopsPerSec > 0);
});
