// The on-disk reference log-prob cache is trusted only with its checksum: a same-size file of NaN
// (a bad disk, a hand edit, another tool's file) is recomputed with a warning, not trained on.
import test from 'ava';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { train } from '../lib/train/trainer.js';
import { policyDir, refDir, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('ref-cache');
test.after.always(() => box.cleanup());
const settings = { model: policyDir, refModel: refDir, data: box.dataNoRationale, loss: 'dpo' as const, batchSize: 2, maxSteps: 1, maxLength: 512 };

test('a reference cache of the right size but with NaN values fails its checksum and is recomputed', async (t) => {
  const first = await train({ ...settings, out: path.join(box.dir, 'first') }, { log: () => {} });
  const cache = path.join(box.dir, 'cache');
  const f32 = readdirSync(cache).filter((f) => f.startsWith('ref-logps-') && f.endsWith('.f32'));
  t.is(f32.length, 1);
  t.true(readdirSync(cache).includes(`${f32[0]}.sha256`), 'a checksum beside the cache');
  const file = path.join(cache, f32[0]!);
  const good = readFileSync(file);
  writeFileSync(file, Buffer.from(new Float32Array(good.length / 4).fill(NaN).buffer));
  const lines: string[] = [];
  const second = await train({ ...settings, out: path.join(box.dir, 'second') }, { log: (l) => lines.push(l) });
  t.regex(lines.join('\n'), /warning: reference log-probs cache .* is not used: its bytes do not match .*\.sha256; recomputing/);
  t.true(Number.isFinite(second.lastMetrics!.loss));
  t.is(second.lastMetrics!.loss, first.lastMetrics!.loss);
  t.deepEqual(readFileSync(file), good, 'the cache is rewritten with the right values');
});
