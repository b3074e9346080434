// Packing is exact: a sequence scored alone equals the same sequence inside a packed batch with
// other sequences and with shared-prompt groups (the trunk/branch mask), and concurrent calls on
// one model are serialised rather than raced.
import test from 'ava';
import path from 'node:path';
import { CausalLM, packPlainSequences, packSequences } from '../lib/index.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'models');

test('packSequences lays out trunk, branches, positions and score rows', (t) => {
  const p = packSequences([
    { prompt: [5, 6, 7], completions: [[8, 9], [10]] },
    { prompt: [11], completions: [[12, 13, 14]] },
  ]);
  // Group 0: prompt 5 6 7 | branch 1: 8 (9 is scored, not fed) | branch 2: nothing fed (10 scored)
  t.deepEqual(Array.from(p.inputIds), [5, 6, 7, 8, 11, 12, 13]);
  t.deepEqual(Array.from(p.positionIds), [0, 1, 2, 3, 0, 1, 2]);
  t.deepEqual(Array.from(p.branchIds), [0, 0, 0, 1, 0, 1, 1]);
  t.deepEqual(Array.from(p.groupOffsets), [0, 4, 7]);
  t.deepEqual(Array.from(p.scoreRows), [2, 3, 2, 4, 5, 6]);
  t.deepEqual(Array.from(p.scoreTargets), [8, 9, 10, 12, 13, 14]);
  t.deepEqual(Array.from(p.scoreSeq), [0, 0, 1, 2, 2, 2]);
  t.is(p.numSequences, 3);
  t.throws(() => packSequences([{ prompt: [], completions: [[1]] }]), { instanceOf: RangeError, message: /empty prompt/ });
  t.throws(() => packSequences([{ prompt: [1], completions: [[1.5]] }]), { instanceOf: RangeError });
});

for (const name of ['llama', 'mistral', 'gpt2']) {
  test(`${name}: a sequence alone equals the same sequence packed with others and in shared-prompt groups`, async (t) => {
    const model = await CausalLM.load(path.join(FIXTURES, name));
    const tok = (seed: number, n: number) => Array.from({ length: n }, (_, i) => 3 + ((seed * 131 + i * 71) % 290));
    const prompt = tok(1, 9);
    const chosen = tok(2, 6);
    const rejected = tok(3, 11); // crosses Mistral's 12-token window with the prompt
    const other = tok(4, 14);

    // Reference: each sequence alone, scoring only the completion.
    const alone = async (pr: number[], c: number[]) => (await model.sequenceLogprobs(packSequences([{ prompt: pr, completions: [c] }]))).sum[0]!;
    const refChosen = await alone(prompt, chosen);
    const refRejected = await alone(prompt, rejected);
    const refOther = await alone(other.slice(0, 5), other.slice(5));

    // Shared prompt with two branches, next to an unrelated group.
    const packed = await model.sequenceLogprobs(
      packSequences([
        { prompt: other.slice(0, 5), completions: [other.slice(5)] },
        { prompt, completions: [chosen, rejected] },
      ]),
    );
    t.is(packed.sum.length, 3);
    for (const [got, want] of [
      [packed.sum[0]!, refOther],
      [packed.sum[1]!, refChosen],
      [packed.sum[2]!, refRejected],
    ] as const) {
      t.true(Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${got} vs ${want}`);
    }

    // The plain form scores whole sequences; the shared-prompt form must agree on the completion part.
    const plain = await model.sequenceLogprobs(packPlainSequences([prompt.concat(chosen), other]));
    const promptOnly = await model.sequenceLogprobs(packPlainSequences([prompt]));
    t.true(Math.abs(plain.sum[0]! - promptOnly.sum[0]! - refChosen) <= 1e-4, 'plain(prompt+chosen) - plain(prompt) = completion');
    t.deepEqual(Array.from(plain.count), [prompt.length + chosen.length - 1, other.length - 1]);

    // Logits of a row alone equal those of the same row in a batch of several sequences.
    const [aloneRows] = await model.logits([other]);
    const batchRows = await model.logits([prompt, other, chosen]);
    let maxDiff = 0;
    aloneRows!.forEach((row, i) => row.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - batchRows[1]![i]![k]!)))));
    t.true(maxDiff <= 1e-5, `max diff ${maxDiff}`);
    model.dispose();
  });
}

test('batched generation with left padding equals one prompt at a time', async (t) => {
  const model = await CausalLM.load(path.join(FIXTURES, 'qwen2'));
  const prompts = [[5, 9, 40, 41, 42, 43, 44], [100], [7, 8, 9]];
  const batched = await model.generate(prompts, { maxNewTokens: 6, eosTokenIds: [] });
  for (let i = 0; i < prompts.length; i++) {
    t.deepEqual(batched[i], (await model.generate([prompts[i]!], { maxNewTokens: 6, eosTokenIds: [] }))[0]);
    t.is(batched[i]!.length, 6);
  }
  // Sampling is seeded: same seed, same tokens; and the tokens stay in the vocabulary.
  const a = await model.generate(prompts, { maxNewTokens: 5, temperature: 1, topP: 0.9, topK: 50, seed: 42 });
  const b = await model.generate(prompts, { maxNewTokens: 5, temperature: 1, topP: 0.9, topK: 50, seed: 42 });
  t.deepEqual(a, b);
  t.true(a.flat().every((x) => x >= 0 && x < model.config.vocabSize));
  model.dispose();
});

test('concurrent calls on one model are serialised and each gets its own answer', async (t) => {
  const model = await CausalLM.load(path.join(FIXTURES, 'llama'));
  const seqs = [
    [3, 4, 5, 6],
    [10, 20, 30],
    [7, 7, 7, 7, 7],
  ];
  const sequential = [];
  for (const s of seqs) sequential.push((await model.sequenceLogprobs(packPlainSequences([s]))).sum[0]);
  const parallel = await Promise.all(Array.from({ length: 12 }, (_, i) => model.sequenceLogprobs(packPlainSequences([seqs[i % 3]!])).then((r) => r.sum[0])));
  parallel.forEach((v, i) => t.is(v, sequential[i % 3]));
  // dispose() while calls are queued: those already queued either finish or reject cleanly, later ones reject.
  const pending = model.logits([[1, 2, 3]]);
  model.dispose();
  const outcome = await pending.then(
    (rows) => `finished with ${rows.length} row(s)`,
    (e: Error) => e.message,
  );
  t.regex(outcome, /^finished with 1 row\(s\)$|disposed/, `a call queued before dispose(): ${outcome}`);
  await t.throwsAsync(() => model.logits([[1]]), { message: /disposed/ });
});
