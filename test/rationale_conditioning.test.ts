// The rationale-conditioning sequence: one user turn (prompt, question, chosen "above", rejected "below"),
// the rationale as the assistant completion, and truncation that keeps the rationale whole.
import test from 'ava';
import { join } from 'node:path';
import { Tokenizer } from '../lib/tokenize/tokenizer.js';
import { rationaleQuestion, tokenizeRationaleRow, tokenizeRationales } from '../lib/tokenize/rationale_conditioning.js';
import { applyChatTemplate } from '../lib/tokenize/chat_template.js';

const FIX = join(import.meta.dirname, 'fixtures', 'tokenizers');
const smol = Tokenizer.load(join(FIX, 'smollm2'));
const gpt2 = Tokenizer.load(join(FIX, 'gpt2-bpe'));

const row = {
  prompt: 'What is the capital of France?',
  chosen: 'The capital of France is Paris.',
  rejected: 'France is a country in Europe.',
  rationale: 'The response above answers the question directly, while the one below does not name the capital.',
};

test('the question keeps every slot: prompt, the question, chosen above, rejected below', (t) => {
  const q = rationaleQuestion('P', 'C', 'R');
  t.true(q.indexOf('P') < q.indexOf('more preferable'));
  t.regex(q, /strictly/);
  t.true(q.indexOf('Response above:\n"C"') < q.indexOf('Response below:\n"R"'));
});

test('chat template: one user turn, rationale + end of turn (EOS) as the completion', (t) => {
  const r = tokenizeRationaleRow(smol, row).value!;
  const prompt = smol.decode(r.promptIds);
  t.true(prompt.startsWith('<|im_start|>system\n'), 'SmolLM2 adds its default system turn');
  t.is(prompt.match(/<\|im_start\|>user/g)!.length, 1);
  t.true(prompt.endsWith('<|im_start|>assistant\n'));
  t.true(prompt.includes(`Response above:\n"${row.chosen}"`));
  t.true(prompt.includes(`Response below:\n"${row.rejected}"`));
  t.is(smol.decode(r.rationaleIds), `${row.rationale}<|im_end|>\n`);
  t.true(r.rationaleIds.includes(smol.eosTokenId!));
  // Same ids as rendering the two-turn conversation directly.
  const full = applyChatTemplate(smol, [
    { role: 'user', content: rationaleQuestion(row.prompt, row.chosen, row.rejected) },
    { role: 'assistant', content: row.rationale },
  ]);
  t.deepEqual([...r.promptIds, ...r.rationaleIds], full);
});

test('no chat template: the plain layout, rationale then EOS', (t) => {
  const r = tokenizeRationaleRow(gpt2, row).value!;
  t.true(gpt2.decode(r.promptIds).startsWith('User: Here is a prompt:\nWhat is the capital of France?'));
  t.true(gpt2.decode(r.promptIds).endsWith('\n\nAssistant:'));
  t.is(gpt2.decode(r.rationaleIds), ` ${row.rationale}<|endoftext|>`);
});

test('truncation trims the responses (longer first), then the prompt; the rationale stays whole', (t) => {
  const long = {
    ...row,
    prompt: 'Tell me about Paris. '.repeat(20),
    chosen: 'Paris is the capital and largest city of France. '.repeat(12),
    rejected: 'I do not know much about it. '.repeat(4),
  };
  const whole = tokenizeRationaleRow(smol, long).value!;
  const total = whole.promptIds.length + whole.rationaleIds.length;
  // Fits by trimming only the chosen (the longer) response.
  const a = tokenizeRationaleRow(smol, long, { maxLength: total - 40 });
  t.true(a.truncated);
  t.deepEqual(a.value!.rationaleIds, whole.rationaleIds);
  t.true(a.value!.promptIds.length + a.value!.rationaleIds.length <= total - 40);
  const textA = smol.decode(a.value!.promptIds);
  t.true(textA.includes(long.prompt.trim()));
  t.true(textA.includes(`Response below:\n"${long.rejected}"`));
  // Needs the responses emptied and the prompt cut, keeping its first tokens.
  const b = tokenizeRationaleRow(smol, long, { maxLength: whole.rationaleIds.length + 80 });
  t.true(b.truncated);
  t.deepEqual(b.value!.rationaleIds, whole.rationaleIds);
  t.true(b.value!.promptIds.length + b.value!.rationaleIds.length <= whole.rationaleIds.length + 80);
  t.regex(smol.decode(b.value!.promptIds), /Here is a prompt:\nTell me about Paris\./);
  // A rationale that cannot fit is left out and counted.
  const warnings: string[] = [];
  const short = tokenizeRationaleRow(smol, row).value!;
  const wordy = { ...long, rationale: row.rationale.repeat(8) };
  const out = tokenizeRationales(smol, [wordy, row], { maxLength: short.promptIds.length + short.rationaleIds.length + 10, warn: (m) => warnings.push(m) });
  t.is(out.stats.dropped, 1);
  t.is(out.stats.truncated, 1);
  t.deepEqual(
    out.items.map((i) => i.index),
    [1],
  );
  t.regex(warnings[0]!, /1 of 2 rationale rows exceeded maxLength .*1 left out/);
});
