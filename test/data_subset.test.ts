// Seeded subsets are deterministic and nested; the evaluation split is disjoint from training
// and does not depend on the training size.
import test from 'ava';
import { loadPreferences, selectSubset, splitEval, type PreferencePair } from '../lib/index.js';
import { sharedData, dataTest, hasData } from './helpers/data_paths.js';

let pairs: PreferencePair[];
const HH = 'hh-rlhf-harmless-base-test.jsonl.gz';
// The tests before the last one all work on these pairs.
const hhTest = dataTest(HH);
test.before(async () => {
  if (!hasData(HH)) return;
  ({ pairs } = await loadPreferences(sharedData('hh-rlhf-harmless-base-test.jsonl.gz'), { skipInvalid: true }));
});
const ids = (ps: readonly { id: string }[]) => ps.map((p) => p.id);

hhTest('selectSubset is deterministic and nested: for one seed the 500 subset is the head of the 1500 one', (t) => {
  const small = selectSubset(pairs, { limit: 500, seed: 7 });
  const large = selectSubset(pairs, { limit: 1500, seed: 7 });
  t.is(small.length, 500);
  t.is(large.length, 1500);
  t.deepEqual(ids(small), ids(large).slice(0, 500));
  t.deepEqual(ids(selectSubset(pairs, { limit: 500, seed: 7 })), ids(small));
  t.is(new Set(ids(large)).size, 1500);
});

hhTest('selectSubset: another seed draws another subset; input order does not matter; limits are checked', (t) => {
  const a = new Set(ids(selectSubset(pairs, { limit: 500, seed: 7 })));
  const b = ids(selectSubset(pairs, { limit: 500, seed: 8 }));
  const overlap = b.filter((id) => a.has(id)).length;
  // Two independent 500-of-2299 draws share about 500²/2299 ≈ 109 pairs.
  t.true(overlap > 50 && overlap < 200, `overlap ${overlap}`);
  t.deepEqual(ids(selectSubset([...pairs].reverse(), { limit: 300, seed: 'x' })), ids(selectSubset(pairs, { limit: 300, seed: 'x' })));
  t.is(selectSubset(pairs, { limit: 10_000, seed: 1 }).length, pairs.length);
  t.is(selectSubset(pairs).length, pairs.length);
  t.throws(() => selectSubset(pairs, { limit: -1 }), { instanceOf: RangeError });
  t.throws(() => selectSubset(pairs, { limit: 1.5 }), { instanceOf: RangeError });
});

hhTest('the order is not the file order (it is a permutation)', (t) => {
  const head = ids(selectSubset(pairs, { limit: 100, seed: 0 }));
  t.notDeepEqual(head, ids(pairs.slice(0, 100)));
});

hhTest('splitEval: disjoint, deterministic, and the same eval set whatever training subset is taken', (t) => {
  const { train, eval: held } = splitEval(pairs, { evalSize: 200, seed: 3 });
  t.is(held.length, 200);
  t.is(train.length, pairs.length - 200);
  const heldIds = new Set(ids(held));
  t.false(train.some((p) => heldIds.has(p.id)));
  t.deepEqual(ids(splitEval(pairs, { evalSize: 200, seed: 3 }).eval), ids(held));
  // Train subsets of growing size: nested, never touching the eval set.
  const t1 = selectSubset(train, { limit: 500, seed: 3 });
  const t3 = selectSubset(train, { limit: 1500, seed: 3 });
  t.deepEqual(ids(t1), ids(t3).slice(0, 500));
  t.false(t3.some((p) => heldIds.has(p.id)));
  // A larger eval split grows from the smaller one.
  t.deepEqual(ids(splitEval(pairs, { evalSize: 400, seed: 3 }).eval).slice(0, 200), ids(held));
  // Training keeps the given order.
  t.deepEqual(ids(train), ids(pairs.filter((p) => !heldIds.has(p.id))));
});

hhTest('splitEval by fraction, and argument checks', (t) => {
  const { train, eval: held } = splitEval(pairs, { evalFraction: 0.1, seed: 1 });
  t.is(held.length, Math.round(pairs.length * 0.1));
  t.is(train.length + held.length, pairs.length);
  t.throws(() => splitEval(pairs, { evalSize: 10, evalFraction: 0.1 }), { instanceOf: TypeError });
  t.throws(() => splitEval(pairs, {}), { instanceOf: TypeError });
  t.throws(() => splitEval(pairs, { evalSize: pairs.length }), { instanceOf: RangeError });
  t.throws(() => splitEval(pairs, { evalFraction: 1 }), { instanceOf: RangeError });
});

dataTest('orca_dpo_pairs-284.parquet')('loadPreferences limit: seeded subset with a seed, the first pairs without', async (t) => {
  const file = sharedData('orca_dpo_pairs-284.parquet');
  const all = (await loadPreferences(file)).pairs;
  const seeded = await loadPreferences(file, { limit: 50, seed: 5 });
  t.is(seeded.report.selected, 50);
  t.is(seeded.report.pairs, 284);
  t.deepEqual(ids(seeded.pairs), ids(selectSubset(all, { limit: 50, seed: 5 })));
  t.deepEqual(ids((await loadPreferences(file, { limit: 20 })).pairs), ids(all.slice(0, 20)));
});
