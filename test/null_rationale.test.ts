// The null-rationale control: content-free text of exactly the rationale's token length.
import test from 'ava';
import path from 'node:path';
import { nullRationaleText, withNullRationales } from '../lib/rationales/null_rationale.js';
import { Tokenizer } from '../lib/tokenize/tokenizer.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

test('byte-level counting: every length from 1 to 200 is hit exactly, with no word of the rationale left', (t) => {
  for (let n = 1; n <= 200; n++) {
    const text = nullRationaleText(n, bytes);
    t.is(bytes(text), n);
    t.regex(text, /^(the( the)*)?\.*$/);
  }
});

test("a real BPE tokenizer (SmolLM2): the null text has the rationale's token count", (t) => {
  const tok = Tokenizer.load(path.join(import.meta.dirname, 'fixtures', 'tokenizers', 'smollm2'));
  const count = (s: string) => tok.encode(s, { addSpecialTokens: false }).length;
  const rationale = 'The response above is preferred because it answers the question directly, with the correct figure.';
  const [pair] = withNullRationales([{ id: 'p', prompt: 'q', chosen: 'a', rejected: 'b', rationale, meta: {} }], count);
  t.is(count(pair!.rationale!), count(rationale));
  t.not(pair!.rationale, rationale);
  t.is(pair!.meta.nullRationaleOf, count(rationale));
});

test('pairs without a rationale pass through; a bad count is refused', (t) => {
  const p = { id: 'p', prompt: 'q', chosen: 'a', rejected: 'b', meta: {} };
  t.is(withNullRationales([p], bytes)[0], p);
  t.throws(() => nullRationaleText(0, bytes), { instanceOf: RangeError });
});
