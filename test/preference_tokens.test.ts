// Preference tokenization against TRL's own DPOTrainer._prepare_dataset output (fixtures written by
// scripts/fixtures/make_tokenizer_parity.py), plus truncation rules and the run-level warning.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../lib/tokenize/tokenizer.js';
import { tokenizePreferences, tokenizePreferenceRow, truncatePair, commonPrefixLength, type PreferenceRow } from '../lib/tokenize/preference_tokens.js';

const FIX = join(import.meta.dirname, 'fixtures', 'tokenizers');
interface TrlCase {
  rows: { prompt: PreferenceRow['prompt']; chosen: string | { content: string }[]; rejected: string | { content: string }[] }[];
  expected: { prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }[];
}
const load = (name: string) => JSON.parse(readFileSync(join(FIX, name, 'expected.json'), 'utf8')) as { trl_plain: TrlCase; trl_chat?: TrlCase };

for (const name of ['gpt2-bpe', 'llama3-style', 'smollm2']) {
  test(`${name}: plain and conversational rows match TRL`, (t) => {
    const tok = Tokenizer.load(join(FIX, name));
    const exp = load(name);
    const cases = [exp.trl_plain, ...(exp.trl_chat ? [exp.trl_chat] : [])];
    for (const c of cases) {
      const warnings: string[] = [];
      // TRL's conversational rows hold the completion as a one-message list; ours hold its text.
      const text = (v: string | { content: string }[]) => (typeof v === 'string' ? v : v[0]!.content);
      const rows = c.rows.map((r) => ({ prompt: r.prompt, chosen: text(r.chosen), rejected: text(r.rejected) }));
      const out = tokenizePreferences(tok, rows, { format: 'plain', warn: (m) => warnings.push(m) });
      t.is(out.pairs.length, c.rows.length);
      out.pairs.forEach((p, i) => {
        const e = c.expected[i]!;
        t.deepEqual(p.promptIds, e.prompt_ids, `row ${i} prompt`);
        t.deepEqual(p.chosenIds, e.chosen_ids, `row ${i} chosen`);
        t.deepEqual(p.rejectedIds, e.rejected_ids, `row ${i} rejected`);
      });
      // One warning at most, with the count, when some prompt was not a prefix.
      t.true(warnings.length <= 1);
      if (out.stats.promptNotPrefix > 0) t.regex(warnings[0]!, new RegExp(`^${out.stats.promptNotPrefix} of ${c.rows.length} rows`));
    }
  });
}

test('plain rows: completions end with EOS (appended once), BOS only where the tokenizer adds it', (t) => {
  const llama = Tokenizer.load(join(FIX, 'llama3-style'));
  const r = tokenizePreferenceRow(llama, { prompt: 'Q: hi\nA:', chosen: ' yes', rejected: ` no${llama.eosToken}` }, { format: 'plain' }).pair!;
  t.is(r.promptIds[0], llama.bosTokenId!);
  t.is(r.chosenIds.at(-1), llama.eosTokenId!);
  t.is(r.rejectedIds.filter((id) => id === llama.eosTokenId).length, 1);
  const smol = Tokenizer.load(join(FIX, 'smollm2'));
  const s = tokenizePreferenceRow(smol, { prompt: 'Q: hi\nA:', chosen: ' yes', rejected: ' no' }, { format: 'plain' }).pair!;
  t.not(s.promptIds[0], smol.bosTokenId!);
  t.is(s.chosenIds.at(-1), smol.eosTokenId!);
});

test("format 'chat' wraps a text prompt as a user turn; the template's end of turn closes the completion", (t) => {
  const smol = Tokenizer.load(join(FIX, 'smollm2'));
  const r = tokenizePreferenceRow(smol, { prompt: 'Capital of France?', chosen: 'Paris.', rejected: 'Rome.', system: 'Be brief.' }, { format: 'chat' }).pair!;
  t.is(smol.decode(r.promptIds), '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nCapital of France?<|im_end|>\n<|im_start|>assistant\n');
  t.is(smol.decode(r.chosenIds), 'Paris.<|im_end|>\n');
  t.is(smol.decode(r.rejectedIds), 'Rome.<|im_end|>\n');
});

test('truncation: prompt first (keep_end / keep_start), then completions; too long → dropped', (t) => {
  const pair = { promptIds: [1, 2, 3, 4, 5, 6], chosenIds: [7, 8, 9], rejectedIds: [10, 11, 12, 13] };
  t.deepEqual(truncatePair(pair, { maxLength: 10 }), { pair, truncated: false });
  t.deepEqual(truncatePair(pair, { maxLength: 8, maxPromptLength: 4 }).pair, { promptIds: [3, 4, 5, 6], chosenIds: [7, 8, 9], rejectedIds: [10, 11, 12, 13] });
  t.deepEqual(truncatePair(pair, { maxLength: 8, maxPromptLength: 4, truncationMode: 'keep_start' }).pair!.promptIds, [1, 2, 3, 4]);
  t.deepEqual(truncatePair(pair, { maxLength: 7, maxPromptLength: 4 }).pair, { promptIds: [3, 4, 5, 6], chosenIds: [7, 8, 9], rejectedIds: [10, 11, 12] });
  t.deepEqual(truncatePair(pair, { maxLength: 6 }), { pair: null, truncated: true });
  const tok = Tokenizer.load(join(FIX, 'gpt2-bpe'));
  const warnings: string[] = [];
  const rows = [
    { prompt: 'a '.repeat(50).trimEnd(), chosen: ' b', rejected: ' c' },
    { prompt: 'x', chosen: 'y', rejected: 'z' },
  ];
  const out = tokenizePreferences(tok, rows, { maxLength: 10, warn: (m) => warnings.push(m) });
  t.deepEqual(out.stats, { rows: 2, promptNotPrefix: 0, truncated: 1, dropped: 1 });
  t.deepEqual(
    out.pairs.map((p) => p.index),
    [1],
  );
  t.regex(warnings.join('\n'), /1 of 2 rows were truncated to maxLength 10; 1 left out/);
  t.throws(() => tokenizePreferences(tok, rows, { maxLength: 0 }), { instanceOf: RangeError });
});

test('commonPrefixLength', (t) => {
  t.is(commonPrefixLength([1, 2, 3], [1, 2, 4]), 2);
  t.is(commonPrefixLength([], [1]), 0);
  t.is(commonPrefixLength([1, 2], [1, 2, 3]), 2);
});
