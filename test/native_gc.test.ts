// 100,000 tensor → typed array round trips under --expose-gc: memory stays bounded.
import test from 'ava';
import { loadNative } from '../lib/native/load.js';

const native = loadNative().testing;
const gc = (globalThis as { gc?: () => void }).gc;

test('external buffers are released when JS drops them', async (t) => {
  if (!gc) return t.fail('run with --expose-gc (package.json ava.nodeArguments sets it)');
  const round = (n: number) => {
    let checksum = 0;
    for (let i = 0; i < n; i++) {
      const view = native.arange(1024).data() as Float32Array; // 4 KiB of tensor storage each
      checksum += view[1023]!;
      const borrowed = new Float32Array(256);
      native.addInPlace(borrowed, 1);
      checksum += borrowed[0]!;
    }
    return checksum;
  };
  // Node runs Node-API finalizers after a GC, on the event loop: yield to let them run.
  const collect = async () => {
    gc!();
    await new Promise((r) => setImmediate(r));
    gc!();
  };
  round(10_000);
  await collect();
  const baseline = process.memoryUsage().rss;
  let checksum = 0;
  for (let block = 0; block < 9; block++) {
    checksum += round(10_000);
    await collect();
  }
  const grown = process.memoryUsage().rss - baseline;
  t.is(checksum, 90_000 * 1024);
  // 90,000 × 4 KiB = 352 MiB if nothing were freed; allow 64 MiB of allocator slack.
  t.true(grown < 64 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB over 90,000 round trips`);
});
