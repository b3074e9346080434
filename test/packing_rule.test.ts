// One packing rule: model/packing.ts's PackBuilder lays out every packed batch in lib/
// (eval and logprobs through packSequences, the trainer through packPreferenceBatch). On random
// pairs the two give one layout, and both agree with the rule as written in packed_batch.h; the C++
// driver's packer (native/driver, for model-check without Node) is held to the same layout.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { driverPath as driver, driverTest } from './helpers/driver.js';
import { packedRows, packSequences, type PackedBatch } from '../lib/model/packing.js';
import { packPreferenceBatch, type PreferenceExample } from '../lib/train/preference_batch.js';
import { SeededRandom } from '../lib/util/random.js';

const rng = new SeededRandom(13);
const ids = (n: number) => Array.from({ length: n }, () => rng.int(0, 999));

/**
 * The rule checked from the layout alone: in each group the prompt (branch 0) comes first at
 * positions 0..P-1; branch b continues at P; a scored token is predicted by its predecessor's row
 * (the prompt's last row for a completion's first token), and a completion's last token is not fed.
 */
function checkRule(
  t: import('ava').ExecutionContext,
  b: PackedBatch,
  groups: { prompt: readonly number[]; completions: readonly (readonly number[])[]; seqs: number[] }[],
): void {
  let s = 0;
  groups.forEach((g, gi) => {
    const start = b.groupOffsets[gi]!;
    const P = g.prompt.length;
    for (let i = 0; i < P; i++) {
      t.is(b.inputIds[start + i], g.prompt[i]);
      t.is(b.positionIds[start + i], i);
      t.is(b.branchIds[start + i], 0);
    }
    let row = start + P;
    g.completions.forEach((c, k) => {
      c.forEach((tok, j) => {
        t.is(b.scoreTargets[s], tok);
        t.is(b.scoreSeq[s], g.seqs[k]);
        t.is(b.scoreRows[s], j === 0 ? start + P - 1 : row + j - 1);
        s++;
      });
      for (let j = 0; j < c.length - 1; j++) {
        t.is(b.inputIds[row + j], c[j]);
        t.is(b.positionIds[row + j], P + j);
        t.is(b.branchIds[row + j], k + 1);
      }
      row += Math.max(0, c.length - 1);
    });
    t.is(b.groupOffsets[gi + 1], row);
    t.is(
      row - start,
      packedRows(
        P,
        g.completions.map((c) => c.length),
      ),
    );
  });
  t.is(s, b.scoreRows.length);
}

test('random pairs: the trainer and the scorer pack one layout, the rule of packed_batch.h', (t) => {
  for (let trial = 0; trial < 25; trial++) {
    const B = rng.int(1, 5);
    const examples: PreferenceExample[] = Array.from({ length: B }, () => ({
      pair: { promptIds: ids(rng.int(1, 9)), chosenIds: ids(rng.int(1, 7)), rejectedIds: ids(rng.int(1, 7)) },
      rationale: { promptIds: ids(rng.int(1, 6)), rationaleIds: ids(rng.int(1, 5)) },
    }));
    const trainer = packPreferenceBatch(examples, { rejected: true, rationale: true });
    const scorer = packSequences([
      ...examples.map((e) => ({ prompt: [...e.pair.promptIds], completions: [[...e.pair.chosenIds], [...e.pair.rejectedIds!]] })),
      ...examples.map((e) => ({ prompt: [...e.rationale!.promptIds], completions: [[...e.rationale!.rationaleIds]] })),
    ]);
    for (const k of ['inputIds', 'positionIds', 'branchIds', 'groupOffsets', 'scoreRows', 'scoreTargets'] as const) t.deepEqual(trainer[k], scorer[k], k);
    // Only the sequence numbering differs: chosen i, rejected B+i, rationale 2B+i against 2i, 2i+1, 2B+i.
    const renumber = (q: number) => (q < 2 * B ? (q % 2 === 0 ? q / 2 : B + (q - 1) / 2) : q);
    t.deepEqual(Array.from(scorer.scoreSeq, renumber), Array.from(trainer.scoreSeq));
    t.is(trainer.packedTokens, trainer.inputIds.length);
    checkRule(t, trainer, [
      ...examples.map((e, i) => ({ prompt: e.pair.promptIds, completions: [e.pair.chosenIds, e.pair.rejectedIds!], seqs: [i, B + i] })),
      ...examples.map((e, i) => ({ prompt: e.rationale!.promptIds, completions: [e.rationale!.rationaleIds], seqs: [2 * B + i] })),
    ]);
  }
});

test('the trainer checks token ids as the scorer does (an Int32Array would wrap them silently)', (t) => {
  for (const bad of [2 ** 32 + 5, -1, 1.5, Number.NaN]) {
    t.throws(() => packPreferenceBatch([{ pair: { promptIds: [1, 2], chosenIds: [bad], rejectedIds: [3] } }], { rejected: true, rationale: false }), {
      instanceOf: RangeError,
      message: /pair 0 completion 0: token ids must be non-negative integers/,
    });
    t.throws(() => packSequences([{ prompt: [1, 2], completions: [[bad]] }]), { instanceOf: RangeError, message: /group 0 completion 0: token ids/ });
  }
  t.throws(() => packPreferenceBatch([{ pair: { promptIds: [1], chosenIds: [] } }], { rejected: false, rationale: false }), {
    message: /pair 0: an empty completion/,
  });
});

driverTest('random groups: the C++ driver packs what packSequences packs', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pack-rule-'));
  try {
    for (let trial = 0; trial < 10; trial++) {
      const groups = Array.from({ length: rng.int(1, 5) }, () => ({
        prompt: ids(rng.int(1, 8)),
        completions: Array.from({ length: rng.int(1, 3) }, () => ids(rng.int(1, 6))),
      }));
      const file = path.join(dir, `groups-${trial}.json`);
      writeFileSync(file, JSON.stringify({ groups }));
      const res = spawnSync(driver, ['pack', file], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: '' } });
      t.is(res.status, 0, res.stderr);
      const cpp = JSON.parse(res.stdout) as Record<string, number[] | number>;
      const ts = packSequences(groups);
      const fields = [
        ['input_ids', ts.inputIds],
        ['position_ids', ts.positionIds],
        ['branch_ids', ts.branchIds],
        ['group_offsets', ts.groupOffsets],
        ['score_rows', ts.scoreRows],
        ['score_targets', ts.scoreTargets],
        ['score_seq', ts.scoreSeq],
      ] as const;
      for (const [key, want] of fields) t.deepEqual(cpp[key], Array.from(want), `trial ${trial}: ${key}`);
      t.is(cpp.num_sequences, ts.numSequences);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
