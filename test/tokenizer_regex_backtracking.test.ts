// A tokenizer.json from an untrusted source can carry a pre-tokenizer or normalizer regex that
// backtracks catastrophically ((a+)+$ takes 13 s on 26 characters and never ends on 30k). Such a
// pattern — one unbounded repeat nested in another — is refused when the tokenizer is loaded,
// naming the file, the key and the pattern; what the check cannot see (an overlapping alternation
// such as (a|a)*$) is stopped by the tokenizer thread's deadline, which then restarts the thread.
import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nestedQuantifier } from '../lib/tokenize/regex_backtracking.js';
import { Tokenizer, TokenizerLoadError } from '../lib/tokenize/tokenizer.js';
import { TokenizeTimeoutError, TokenizerThread } from '../lib/tokenize/tokenizer_thread.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const MODEL = path.join(FIXTURES, 'models', 'tiny-chat');

/** A copy of the tiny-chat tokenizer whose Split pattern is `pattern`. */
function withSplitPattern(t: { teardown(fn: () => void): void }, pattern: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-regex-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) cpSync(path.join(MODEL, f), path.join(dir, f));
  const file = path.join(dir, 'tokenizer.json');
  const json = JSON.parse(readFileSync(file, 'utf8'));
  json.pre_tokenizer.pretokenizers[0].pattern.Regex = pattern;
  writeFileSync(file, JSON.stringify(json));
  return dir;
}

test('a (a+)+$ pre-tokenizer pattern is refused at load, quickly, naming the file, key and pattern', (t) => {
  const dir = withSplitPattern(t, '(a+)+$');
  const started = performance.now();
  const err = t.throws(() => {
    const tok = Tokenizer.load(dir);
    // The old code loaded it; encoding this then took many seconds (exponential in the a's).
    tok.encode('a'.repeat(24) + '!');
  });
  t.true(performance.now() - started < 3000);
  t.true(err instanceof TokenizerLoadError, String(err));
  t.true(err.message.includes(path.join(dir, 'tokenizer.json')), err.message);
  t.regex(err.message, /pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex/);
  t.regex(err.message, /"\(a\+\)\+\$"/);
  t.regex(err.message, /nests one unbounded repeat inside another/);
});

test('a nested quantifier in a normalizer Replace is refused too', (t) => {
  const dir = withSplitPattern(t, '\\s+');
  const file = path.join(dir, 'tokenizer.json');
  const json = JSON.parse(readFileSync(file, 'utf8'));
  json.normalizer = { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: '(?:\\w+\\s?)*x' }, content: ' ' }] };
  writeFileSync(file, JSON.stringify(json));
  t.throws(() => Tokenizer.load(dir), { instanceOf: TokenizerLoadError, message: /normalizer\.normalizers\[0\]\.pattern\.Regex .*"\(\?:\\\\w\+\\\\s\?\)\*x"/ });
});

test('nestedQuantifier finds nested unbounded repeats and passes the patterns real tokenizers use', (t) => {
  for (const bad of ['(a+)+$', '(a*)*', '(?:x|y+)*z', '((ab)+c)*', '(\\w+\\s?)*$', '(a{2,})+', '(?i:(?:a+))+', '([a-z]+)*']) {
    t.not(nestedQuantifier(bad), undefined, bad);
  }
  t.is(nestedQuantifier('(a+)+$'), '(a+)+');
  const real = [
    // GPT-2, Llama-3 / tiny-chat, Mistral Tekken-like, BLOOM (nested class), bounded repeats.
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*",
    ' ?[^(\\s|[.,!?…。，、।۔،])]+',
    '(\\d{1,3})+',
    '(?:ab?){1,4}',
    '\\(+a+',
    '[(+]+',
  ];
  for (const ok of real) t.is(nestedQuantifier(ok), undefined, ok);
  // Every tokenizer shipped with the tests still loads.
  for (const dir of ['models/tiny-chat', 'tokenizers/llama3-style', 'tokenizers/llama3-features', 'tokenizers/smollm2', 'tokenizers/gpt2-bpe']) {
    t.notThrows(() => Tokenizer.load(path.join(FIXTURES, dir)), dir);
  }
});

test('the tokenizer thread stops a tokenization that runs past its deadline, then serves the next', async (t) => {
  // (a|a)*$ nests nothing, so the load check passes it; it is exponential all the same.
  const dir = withSplitPattern(t, '(a|a)*$');
  const thread = new TokenizerThread(dir);
  t.teardown(() => thread.close());
  const fine = await thread.applyChatTemplate([{ role: 'user', content: 'hello there' }], {}, 20_000);
  t.true(fine.length > 0);
  const started = performance.now();
  const err = await t.throwsAsync(thread.applyChatTemplate([{ role: 'user', content: 'a'.repeat(40) + '!' }], {}, 1500));
  const took = performance.now() - started;
  t.true(err instanceof TokenizeTimeoutError, String(err));
  t.regex(err.message, /took longer than 1\.5 s/);
  t.regex(err.message, new RegExp(`tokenizer of ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  t.true(took < 15_000, `took ${took.toFixed(0)} ms`);
  // A fresh thread answers the next request.
  t.deepEqual(await thread.applyChatTemplate([{ role: 'user', content: 'hello there' }], {}, 20_000), fine);
});
