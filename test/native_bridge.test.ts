// Zero-copy exchange between typed arrays and tensors, both directions.
import test from 'ava';
import { loadNative } from '../lib/native/load.js';

const native = loadNative().testing;

test('a typed array is borrowed, not copied: a native write is seen by JS', (t) => {
  const a = new Float32Array([1, 2, 3, 4]);
  native.addInPlace(a, 10);
  t.deepEqual(Array.from(a), [11, 12, 13, 14]);
});

test('views with a byteOffset (pooled Node Buffers) are borrowed at the right place', (t) => {
  const pool = Buffer.alloc(64);
  const view = new Int32Array(pool.buffer, pool.byteOffset + 8, 4);
  view.set([1, 2, 3, 4]);
  native.addInPlace(view, 1);
  t.deepEqual(Array.from(view), [2, 3, 4, 5]);
  // the bytes around the view are untouched
  t.is(pool.readInt32LE(4), 0);
  t.is(pool.readInt32LE(24), 0);
  // A small Buffer from the shared pool: its byteOffset is usually non-zero.
  const pooled = Buffer.from([1, 2, 3]);
  native.addInPlace(new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.length), 2);
  t.deepEqual([...pooled], [3, 4, 5]);
});

test('BigInt64Array and Uint16Array (bf16) are borrowed with their dtypes', (t) => {
  const ids = new BigInt64Array([1n, 2n, 3n]);
  native.addInPlace(ids, 5);
  t.deepEqual(Array.from(ids), [6n, 7n, 8n]);
  // bf16 1.0 is 0x3f80; 1 + 1 = 2.0 is 0x4000
  const bf16 = new Uint16Array([0x3f80, 0x3f80]);
  native.addInPlace(bf16, 1, 'bfloat16');
  t.deepEqual(Array.from(bf16), [0x4000, 0x4000]);
  const f16 = new Uint16Array([0x3c00]); // 1.0 in IEEE half
  native.addInPlace(f16, 1, 'float16');
  t.is(f16[0], 0x4000); // 2.0
});

test('a native tensor is handed to JS without a copy: JS writes are seen natively', (t) => {
  const before = native.bridgeStats();
  const tensor = native.arange(5);
  t.is(tensor.dtype, 'float32');
  t.deepEqual(tensor.shape, [5]);
  const view = tensor.data() as Float32Array;
  t.deepEqual(Array.from(view), [0, 1, 2, 3, 4]);
  t.is(tensor.sum(), 10);
  view[0] = 100;
  t.is(tensor.sum(), 110, 'the native tensor sees the JS write');
  const second = tensor.data() as Float32Array;
  t.is(second[0], 100, 'two views share one storage');
  const after = native.bridgeStats();
  t.is(after.external - before.external, 2);
  t.is(after.copied, before.copied);
});

test('int64 tensors come back as BigInt64Array, copies are independent', (t) => {
  const ids = native.arange(3, 'int64').data();
  t.true(ids instanceof BigInt64Array);
  t.deepEqual(Array.from(ids as BigInt64Array), [0n, 1n, 2n]);
  const src = new Float32Array([1, 2, 3, 4, 5, 6]);
  const copy = native.copyToNative(src, [2, 3]);
  t.deepEqual(copy.shape, [2, 3]);
  src[0] = 50;
  t.is(copy.sum(), 21, 'copyToNative owns its memory');
});
