// The trainer's preference packing: shared prompts, branches, rationale groups and the sequence
// numbering (chosen i, rejected B+i, rationale 2B+i) give the same log-probs as scoring every
// sequence on its own.
import test from 'ava';
import { CausalLM } from '../lib/model/causal_lm.js';
import { packSequences } from '../lib/model/packing.js';
import { packPreferenceBatch, type PreferenceExample } from '../lib/train/preference_batch.js';
import { SeededRandom } from '../lib/util/random.js';
import { fixture } from './helpers/data_paths.js';

const rng = new SeededRandom(3);
const ids = (n: number, vocab: number) => Array.from({ length: n }, () => rng.int(0, vocab - 1));

test('the packed layout shares the prompt and does not feed the last completion token', (t) => {
  const b = packPreferenceBatch([{ pair: { promptIds: [1, 2, 3], chosenIds: [4, 5], rejectedIds: [6] } }], { rejected: true, rationale: false });
  t.deepEqual(Array.from(b.inputIds), [1, 2, 3, 4]);
  t.deepEqual(Array.from(b.positionIds), [0, 1, 2, 3]);
  t.deepEqual(Array.from(b.branchIds), [0, 0, 0, 1]);
  t.deepEqual(Array.from(b.groupOffsets), [0, 4]);
  // chosen: 4 predicted by row 2 (last prompt token), 5 by row 3; rejected: 6 by row 2
  t.deepEqual(Array.from(b.scoreRows), [2, 3, 2]);
  t.deepEqual(Array.from(b.scoreTargets), [4, 5, 6]);
  t.deepEqual(Array.from(b.scoreSeq), [0, 0, 1]);
  t.is(b.pairTokens, 3 + 2 + 3 + 1);
  t.is(b.packedTokens, 4);
  t.throws(() => packPreferenceBatch([{ pair: { promptIds: [], chosenIds: [1] } }], { rejected: false, rationale: false }), {
    instanceOf: RangeError,
    message: /pair 0: the prompt has no tokens/,
  });
  t.throws(() => packPreferenceBatch([{ pair: { promptIds: [1], chosenIds: [2] } }], { rejected: true, rationale: false }), {
    instanceOf: TypeError,
    message: /no rejected/,
  });
});

// gemma2 (window 6 on alternate layers) and phi3-legacy (window 12): sequences cross the window
// inside a pack of many, so the window must count positions in a sequence, not rows of the pack.
for (const name of ['llama', 'gemma2', 'phi3-legacy'])
  test(`${name}: packed preference log-probs equal each sequence scored alone`, async (t) => {
    const model = await CausalLM.load(fixture('models', name));
    const vocab = model.config.vocabSize;
    const examples: PreferenceExample[] = Array.from({ length: 3 }, (_, i) => ({
      pair: { promptIds: ids(5 + i, vocab), chosenIds: ids(4 + i, vocab), rejectedIds: ids(1 + 2 * i, vocab) },
      rationale: { promptIds: ids(9, vocab), rationaleIds: ids(3 + i, vocab) },
    }));
    const batch = packPreferenceBatch(examples, { rejected: true, rationale: true });
    const packed = await model.sequenceLogprobs(batch);
    const B = examples.length;
    for (let i = 0; i < B; i++) {
      const ex = examples[i]!;
      const alone = await model.sequenceLogprobs(
        packSequences([
          { prompt: [...ex.pair.promptIds], completions: [[...ex.pair.chosenIds]] },
          { prompt: [...ex.pair.promptIds], completions: [[...ex.pair.rejectedIds!]] },
          { prompt: [...ex.rationale!.promptIds], completions: [[...ex.rationale!.rationaleIds]] },
        ]),
      );
      for (const [k, seq] of [
        [0, i],
        [1, B + i],
        [2, 2 * B + i],
      ] as const) {
        const want = alone.sum[k]!;
        const got = packed.sum[seq]!;
        t.true(Math.abs(got - want) <= 1e-4 * Math.max(1, Math.abs(want)), `sequence ${seq}: packed ${got} vs alone ${want}`);
        t.is(packed.count[seq], alone.count[k]);
      }
    }
    model.dispose();
  });
