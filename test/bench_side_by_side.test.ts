// The non-timing rules of bench/run.mjs (bench/side_by_side.mjs): run order, the quiet-machine
// rule, best-of-runs, verdict marking and --record refusal, the scaling sweep points.
import test from 'ava';
import { MAX_LOAD_PER_CORE, parseIntList, quietEnough, recordDecision, scalingPoints, schedule, summarizeRows, waitForQuiet } from '../bench/side_by_side.mjs';

test('--batch lists parse in order, without duplicates, and bad entries name the flag', (t) => {
  t.deepEqual(parseIntList('2,8', '--batch'), [2, 8]);
  t.deepEqual(parseIntList(' 8, 2 ,8', '--batch'), [8, 2]);
  t.throws(() => parseIntList('2,x', '--batch'), { message: /--batch: "x" is not a whole number ≥ 1/ });
  t.throws(() => parseIntList('0', '--batch'), { message: /≥ 1/ });
  t.deepEqual(parseIntList('0', '--max-wait', 0), [0]);
});

test('sides are interleaved TRL, ours, TRL, ours within each dtype and batch', (t) => {
  const runs = schedule({ dtypes: ['float32', 'bfloat16'], batches: [2, 8], repeats: 2 });
  t.is(runs.length, 2 * 2 * 2 * 2);
  t.deepEqual(
    runs.slice(0, 4).map((r) => `${r.dtype}/${r.batch}/${r.side}`),
    ['float32/2/trl', 'float32/2/ours', 'float32/2/trl', 'float32/2/ours'],
  );
  t.deepEqual(
    runs.slice(4, 6).map((r) => `${r.dtype}/${r.batch}/${r.side}`),
    ['float32/8/trl', 'float32/8/ours'],
  );
  t.deepEqual(
    schedule({ dtypes: ['bfloat16'], batches: [2], repeats: 3, only: 'ours' }).map((r) => r.side),
    ['ours', 'ours', 'ours'],
  );
  t.throws(() => schedule({ dtypes: ['float32'], batches: [2], repeats: 0 }), { message: /--repeats/ });
});

test('a side is quiet at most 0.5 load per core', (t) => {
  t.is(MAX_LOAD_PER_CORE, 0.5);
  t.true(quietEnough(1.0, 2));
  t.false(quietEnough(1.01, 2));
  t.true(quietEnough(3.9, 8));
});

test('waitForQuiet polls until the load falls, and gives up after the wait limit', async (t) => {
  const slept: number[] = [];
  const readings = [1.8, 1.4, 0.9, 0.5];
  const q = await waitForQuiet({ cores: 2, maxWaitS: 60, pollS: 5, loadavg: () => readings.shift()!, sleep: async (ms: number) => void slept.push(ms) });
  t.deepEqual(q, { load: 0.9, waitedS: 10, quiet: true });
  t.deepEqual(slept, [5000, 5000]);
  const busy = await waitForQuiet({ cores: 2, maxWaitS: 12, pollS: 5, loadavg: () => 3, sleep: async () => {} });
  t.deepEqual(busy, { load: 3, waitedS: 10, quiet: false });
  const now = await waitForQuiet({ cores: 2, maxWaitS: 0, loadavg: () => 0.2, sleep: async () => t.fail('no sleep when quiet') });
  t.deepEqual(now, { load: 0.2, waitedS: 0, quiet: true });
});

const ours = (tps: number, rss: number) => ({ pair_tokens_per_sec: tps, tokens_per_sec: tps * 1.1, peak_rss_mb: rss, mfu: 0.2, hardware_mfu: 0.3 });
const trl = (tps: number, rss: number) => ({ tokens_per_sec: tps, peak_rss_mb: rss, mfu: 0.1 });

test("each side counts its best run and its lowest RSS; the ratio uses TRL's token basis", (t) => {
  const records = [
    { dtype: 'float32', batch: 2, side: 'trl', loadBefore: 0.3, loadAfter: 1.9, result: trl(80, 4700) },
    { dtype: 'float32', batch: 2, side: 'ours', loadBefore: 0.6, loadAfter: 1.8, result: ours(150, 2600) },
    { dtype: 'float32', batch: 2, side: 'trl', loadBefore: 0.4, loadAfter: 1.9, result: trl(90, 4800) },
    { dtype: 'float32', batch: 2, side: 'ours', loadBefore: 0.5, loadAfter: 1.7, result: ours(140, 2500) },
  ];
  const [row] = summarizeRows(records, { cores: 2 });
  t.is(row!.ours!.tokensPerSec, 150); // pair_tokens_per_sec, not tokens_per_sec
  t.is(row!.trl!.tokensPerSec, 90);
  t.is(row!.ours!.peakRssMb, 2500);
  t.is(row!.trl!.peakRssMb, 4700);
  t.is(row!.speedup, 150 / 90);
  t.is(row!.rssRatio, 2500 / 4700);
  t.true(row!.verdict);
  t.deepEqual(row!.ours!.loadsBefore, [0.6, 0.5]);
});

test('a row with a side that started busy is not a verdict, and --record refuses it unless told', (t) => {
  const records = [
    { dtype: 'bfloat16', batch: 8, side: 'trl', loadBefore: 2.4, loadAfter: 2.0, result: trl(100, 4700) },
    { dtype: 'bfloat16', batch: 8, side: 'ours', loadBefore: 0.4, loadAfter: 1.7, result: ours(150, 2500) },
    { dtype: 'bfloat16', batch: 2, side: 'trl', loadBefore: 0.4, loadAfter: 1.7, result: trl(100, 4700) },
    { dtype: 'bfloat16', batch: 2, side: 'ours', loadBefore: 0.4, loadAfter: 1.7, error: 'exited 1' },
  ];
  const rows = summarizeRows(records, { cores: 2 });
  t.is(rows.length, 2);
  t.false(rows[0]!.verdict);
  t.regex(rows[0]!.notVerdictReason!, /load before a side 2\.40 > 1\.00/);
  t.false(rows[1]!.verdict);
  t.is(rows[1]!.speedup, null);
  t.is(rows[1]!.notVerdictReason, 'a run failed');
  const refused = recordDecision(rows, { allowBusy: false });
  t.false(refused.record);
  t.regex(refused.message!, /--record refused: bfloat16 batch 8: load before a side 2\.40.*--record-busy/);
  const marked = recordDecision(rows, { allowBusy: true });
  t.true(marked.record);
  t.regex(marked.message!, /not a verdict/);
  t.deepEqual(recordDecision(summarizeRows(records.slice(2, 3), { cores: 8 }), { allowBusy: false }).record, false); // one side missing
});

test('the scaling sweeps vary sequence length at a fixed batch, then batch at a fixed length', (t) => {
  const pts = scalingPoints({ seqLens: [256, 512, 1024, 2048], batches: [1, 2, 4, 8, 16], fixedBatch: 2, fixedSeqLen: 256 });
  t.deepEqual(
    pts.filter((p) => p.sweep === 'sequence length').map((p) => p.seqLen),
    [256, 512, 1024, 2048],
  );
  // (256, 2) is already in the first sweep and is not run twice
  t.deepEqual(
    pts.filter((p) => p.sweep === 'batch').map((p) => p.batch),
    [1, 4, 8, 16],
  );
  t.true(pts.every((p) => p.sweep !== 'batch' || p.seqLen === 256));
});
