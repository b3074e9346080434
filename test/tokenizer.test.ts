// Token ids and chat renderings against Python transformers (expected.json written by
// scripts/fixtures/make_tokenizer_parity.py from the same tokenizer files).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer, TokenizerLoadError } from '../lib/tokenize/tokenizer.js';
import { applyChatTemplate, renderChat, renderPlainChat, ChatTemplateError } from '../lib/tokenize/chat_template.js';

const FIX = join(import.meta.dirname, 'fixtures', 'tokenizers');

interface Expected {
  bos_token: string | null;
  eos_token: string | null;
  pad_token: string | null;
  bos_token_id: number | null;
  eos_token_id: number | null;
  encode: { text: string; ids: number[]; ids_no_special: number[]; decoded: string; decoded_skip_special: string }[];
  chat?: { messages: { role: string; content: string }[]; add_generation_prompt: boolean; text: string; ids: number[] }[];
}

const expected = (name: string): Expected => JSON.parse(readFileSync(join(FIX, name, 'expected.json'), 'utf8'));

for (const name of ['gpt2-bpe', 'llama3-style', 'smollm2']) {
  test(`${name}: ids and decoding match transformers`, (t) => {
    const tok = Tokenizer.load(join(FIX, name));
    const exp = expected(name);
    t.is(tok.bosToken, exp.bos_token);
    t.is(tok.eosToken, exp.eos_token);
    t.is(tok.bosTokenId, exp.bos_token_id);
    t.is(tok.eosTokenId, exp.eos_token_id);
    t.true(exp.encode.length >= 30);
    for (const e of exp.encode) {
      t.deepEqual(tok.encode(e.text), e.ids, `encode ${JSON.stringify(e.text)}`);
      t.deepEqual(tok.encode(e.text, { addSpecialTokens: false }), e.ids_no_special, `encode (no special) ${JSON.stringify(e.text)}`);
      t.is(tok.decode(e.ids), e.decoded, `decode ${JSON.stringify(e.text)}`);
      t.is(tok.decode(e.ids, { skipSpecialTokens: true }), e.decoded_skip_special, `decode skip ${JSON.stringify(e.text)}`);
    }
  });
}

for (const name of ['llama3-style', 'smollm2']) {
  test(`${name}: chat template text and ids match apply_chat_template`, (t) => {
    const tok = Tokenizer.load(join(FIX, name));
    const exp = expected(name);
    t.truthy(tok.chatTemplate);
    for (const c of exp.chat!) {
      const opts = { addGenerationPrompt: c.add_generation_prompt };
      t.is(renderChat(tok, c.messages, opts), c.text);
      t.deepEqual(applyChatTemplate(tok, c.messages, opts), c.ids);
    }
  });
}

test('template features: strftime_now, tools=None, namespace, raise_exception', (t) => {
  const tok = Tokenizer.load(join(FIX, 'llama3-features'));
  const exp = expected('llama3-features');
  for (const c of exp.chat!) {
    const opts = { addGenerationPrompt: c.add_generation_prompt, variables: { date_string: '26 Jul 2024' } };
    t.is(renderChat(tok, c.messages, opts), c.text);
    t.deepEqual(applyChatTemplate(tok, c.messages, opts), c.ids);
  }
  // strftime_now fills the date when none is given.
  const today = renderChat(tok, [{ role: 'user', content: 'hi' }]);
  t.regex(today, /Today Date: \d\d [A-Z][a-z]{2} \d{4}/);
  // raise_exception surfaces as a ChatTemplateError with the template's message.
  const err = t.throws(() => renderChat(tok, [{ role: 'assistant', content: 'x' }]), { instanceOf: ChatTemplateError });
  t.regex(err!.message, /roles must alternate/);
  t.throws(() => renderChat(tok, [{ role: 'user', content: 'x' }], { tools: [{ name: 'f' }] }), { message: /tools are not supported/ });
});

test('eosTokenIds merges generation_config.json with the tokenizer EOS', (t) => {
  const tok = Tokenizer.load(join(FIX, 'llama3-style'));
  t.deepEqual(
    [...tok.eosTokenIds].sort((a, b) => a - b),
    [tok.tokenToId('<|end_of_text|>')!, tok.tokenToId('<|eot_id|>')!].sort((a, b) => a - b),
  );
  const smol = Tokenizer.load(join(FIX, 'smollm2'));
  t.deepEqual(smol.eosTokenIds, [2]);
  t.is(smol.padToken, '<|im_end|>');
  t.is(smol.padTokenId, 2);
});

test('no template: the plain layout, BOS from the tokenizer', (t) => {
  const tok = Tokenizer.load(join(FIX, 'gpt2-bpe'));
  t.is(tok.chatTemplate, null);
  const msgs = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: '4.' },
    { role: 'user', content: 'And 3+3?' },
  ];
  const text = renderChat(tok, msgs, { addGenerationPrompt: true });
  t.is(text, 'System: Be brief.\n\nUser: What is 2+2?\n\nAssistant: 4.<|endoftext|>\n\nUser: And 3+3?\n\nAssistant:');
  t.is(renderPlainChat(msgs.slice(1, 2), null), 'User: What is 2+2?');
  t.deepEqual(applyChatTemplate(tok, msgs), tok.encode(renderChat(tok, msgs)));
});

test('a missing file is named in the error', (t) => {
  t.throws(() => Tokenizer.load(join(FIX, 'nope')), { instanceOf: TokenizerLoadError, message: /nope\/tokenizer\.json does not exist/ });
});
