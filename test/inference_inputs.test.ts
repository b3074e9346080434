// Prompt files for `generate` (prompt / messages / MT-Bench turns) and stop-string cutting.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPromptFile } from '../lib/inference/prompt_file.js';
import { cutAtStops } from '../lib/inference/stop_strings.js';
import { PreferenceDataError } from '../lib/data/errors.js';
import { Tokenizer } from '../lib/tokenize/tokenizer.js';
import { sharedData, fixture, dataTest } from './helpers/data_paths.js';

dataTest('mt_bench-questions.jsonl', 'vicuna_bench-questions.jsonl')(
  'MT-Bench and Vicuna question files: the first turn, question_id and category kept',
  async (t) => {
    for (const name of ['mt_bench-questions.jsonl', 'vicuna_bench-questions.jsonl']) {
      const rows = await readPromptFile(sharedData(name));
      t.is(rows.length, 80);
      t.is(typeof rows[0]!.prompt, 'string');
      t.truthy(rows[0]!.keys.question_id);
      t.truthy(rows[0]!.keys.category);
    }
  },
);

test('prompt and messages rows; bad rows name the line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prompts-'));
  try {
    const f = join(dir, 'p.jsonl');
    writeFileSync(
      f,
      [
        JSON.stringify({ prompt: 'Hi', id: 'a' }),
        JSON.stringify({
          messages: [
            { role: 'system', content: 'S' },
            { role: 'user', content: 'Q' },
          ],
        }),
      ].join('\n') + '\n',
    );
    const rows = await readPromptFile(f);
    t.deepEqual(rows[0]!.prompt, 'Hi');
    t.deepEqual(rows[0]!.keys, { id: 'a' });
    t.deepEqual(rows[1]!.prompt, [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'Q' },
    ]);
    writeFileSync(f, JSON.stringify({ prompt: 'ok' }) + '\n' + JSON.stringify({ text: 'no prompt' }) + '\n');
    await t.throwsAsync(readPromptFile(f), { instanceOf: PreferenceDataError, message: /p\.jsonl:2 has none of `prompt`/ });
    writeFileSync(
      f,
      JSON.stringify({
        messages: [
          { role: 'user', content: 'Q' },
          { role: 'assistant', content: 'A' },
        ],
      }) + '\n',
    );
    await t.throwsAsync(readPromptFile(f), { message: /must end with a user turn/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cutAtStops: EOS, stop strings (earliest wins), token counts', (t) => {
  const tok = Tokenizer.load(fixture('tokenizers', 'smollm2'));
  const eos = tok.eosTokenId!;
  const ids = tok.encode('The answer is 4.\nUser: next question', { addSpecialTokens: false });
  const plain = cutAtStops(tok, [...ids, eos, ...tok.encode('junk', { addSpecialTokens: false })], [eos], []);
  t.deepEqual(plain, { text: 'The answer is 4.\nUser: next question', tokens: ids.length, stoppedBy: 'eos' });
  const cut = cutAtStops(tok, ids, [eos], ['User:', '\n']);
  t.is(cut.text, 'The answer is 4.');
  t.is(cut.stoppedBy, 'stop');
  t.is(tok.decode(ids.slice(0, cut.tokens)), 'The answer is 4.\n');
  t.deepEqual(cutAtStops(tok, ids, [eos], ['nowhere']).stoppedBy, 'length');
});
