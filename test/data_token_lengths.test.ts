// Token counting through @huggingface/tokenizers agrees with the Python `tokenizers` that built the
// fixture (counts printed by scripts/fixtures/make_tokenizer_tiny.py); percentiles are nearest-rank.
import test from 'ava';
import { loadTokenCounter, lengthStats, tokenLengthReport } from '../lib/data/token_lengths.js';
import { loadPreferences } from '../lib/index.js';
import { fixture, sharedData, dataTest } from './helpers/data_paths.js';

dataTest('orca_dpo_pairs-284.parquet')('counts match the Python tokenizer', async (t) => {
  const counter = await loadTokenCounter(fixture('tokenizer-tiny'));
  t.is(counter.count('Hello World'), 8);
  t.is(counter.count('Translate to English: Règlement'), 17);
  const { pairs } = await loadPreferences(sharedData('orca_dpo_pairs-284.parquet'), { limit: 1 });
  t.is(counter.count(pairs[0]!.chosen), 358);
});

test('nearest-rank percentiles', (t) => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100, unsorted
  t.deepEqual(lengthStats(values), { count: 100, p50: 50, p90: 90, p99: 99, max: 100 });
  t.deepEqual(lengthStats([7]), { count: 1, p50: 7, p90: 7, p99: 7, max: 7 });
  t.deepEqual(lengthStats([]), { count: 0, p50: 0, p90: 0, p99: 0, max: 0 });
});

test('truncation counts: prompt + longer response, and the full rationale sequence', (t) => {
  const words = { count: (s: string) => s.split(' ').length };
  const pair = (prompt: string, chosen: string, rejected: string, rationale?: string) => ({
    id: prompt,
    prompt,
    chosen,
    rejected,
    ...(rationale ? { rationale } : {}),
    meta: {},
  });
  const report = tokenLengthReport(
    [
      pair('a b', 'c', 'd e f', 'g'), // 2 + 3 = 5 pair tokens, 2 + 1 + 3 + 1 = 7 rationale tokens
      pair('a', 'b', 'c'),
    ],
    words,
    5,
  );
  t.is(report.truncatedPairs, 0);
  t.is(report.truncatedRationales, 1);
  t.is(report.rationale!.count, 1);
  t.is(tokenLengthReport([pair('a b', 'c', 'd e f')], words, 4).truncatedPairs, 1);
});
