// The one prompt-format rule (lib/tokenize/prompt_format.ts): for every data format, the prompt ids
// the trainer scores a completion after are the ids generation prompts the model with; text and
// message prompts train identically; resume and eval refuse a model's non-trained format.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPromptSet } from '../lib/eval/prompts.js';
import { encodePrompt, promptFormatFor, PromptFormatMismatch, resolvePromptFormat, type PromptFormatSetting } from '../lib/tokenize/prompt_format.js';
import { Tokenizer } from '../lib/tokenize/tokenizer.js';
import { prepareTrainingData } from '../lib/train/dataset.js';
import { train } from '../lib/train/trainer.js';
import type { MetricsRow } from '../lib/train/metrics.js';
import { readJsonlRows } from '../lib/util/jsonl_append.js';
import { fixture } from './helpers/data_paths.js';
import { policyDir } from './helpers/train_fixture.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rdpo-prompt-format-'));
process.env.RDPO_CACHE_DIR = path.join(tmp, 'cache');
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

// Two rows of each format the loader reads, written as users bring them.
const FILES: Record<string, { name: string; text: string }> = {
  orca: {
    name: 'orca.jsonl',
    text: jsonl([
      { system: 'You are a careful assistant.', question: 'What is 2 + 2?', chosen: '4.', rejected: '5.' },
      { system: '', question: 'Name a colour.', chosen: 'Blue.', rejected: 'Seven.' },
    ]),
  },
  ultrafeedback: {
    name: 'uf.jsonl',
    text: jsonl(
      ['Say hi.', 'Count to three.'].map((q, i) => ({
        prompt: q,
        prompt_id: `p${i}`,
        chosen: [
          { role: 'user', content: q },
          { role: 'assistant', content: 'Good answer.' },
        ],
        rejected: [
          { role: 'user', content: q },
          { role: 'assistant', content: 'Bad.' },
        ],
        score_chosen: 8,
        score_rejected: 3,
      })),
    ),
  },
  'hh-rlhf': {
    name: 'hh.jsonl',
    text: jsonl([
      { chosen: '\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?', rejected: '\n\nHuman: Hi there\n\nAssistant: Go away.' },
      { chosen: '\n\nHuman: A\n\nAssistant: B\n\nHuman: C?\n\nAssistant: Yes, C.', rejected: '\n\nHuman: A\n\nAssistant: B\n\nHuman: C?\n\nAssistant: No.' },
    ]),
  },
  'rationale-set': {
    name: 'rat.jsonl',
    text: jsonl([
      { prompt: 'Capital of France?', chosen: 'Paris.', rejected: 'Rome.', rationale: 'Paris is the capital.' },
      { prompt: 'Two plus two?', chosen: 'Four.', rejected: 'Five.', rationale: 'The sum is four.' },
    ]),
  },
  openai: {
    name: 'openai.jsonl',
    text: jsonl(
      ['Tell a fact.', 'Give a number.'].map((q) => ({
        input: {
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: q },
          ],
        },
        preferred_output: [{ role: 'assistant', content: 'Water is wet.' }],
        non_preferred_output: [{ role: 'assistant', content: 'No.' }],
      })),
    ),
  },
  sharegpt: {
    name: 'sharegpt.json',
    text: JSON.stringify([
      { conversations: [{ from: 'human', value: 'Hello?' }], chosen: { from: 'gpt', value: 'Hi!' }, rejected: { from: 'gpt', value: '...' } },
      {
        system: 'Answer in one word.',
        conversations: [
          { from: 'human', value: 'Sky colour?' },
          { from: 'gpt', value: 'Blue.' },
          { from: 'human', value: 'Grass?' },
        ],
        chosen: { from: 'gpt', value: 'Green.' },
        rejected: { from: 'gpt', value: 'Loud.' },
      },
    ]),
  },
  pandalm: {
    name: 'pandalm.json',
    text: JSON.stringify([
      { idx: 1, instruction: 'Translate to French.', input: 'cat', response1: 'chat', response2: 'dog', annotator1: 1, annotator2: 1, annotator3: 1 },
      { idx: 2, instruction: 'Add the numbers.', input: '2 and 3', response1: '6', response2: '5', annotator1: 2, annotator2: 2, annotator3: 2 },
    ]),
  },
  generic: {
    name: 'generic.jsonl',
    text: jsonl([
      { prompt: [{ role: 'user', content: 'Pick a side.' }], chosen: 'Left.', rejected: 'Up.' },
      { prompt: 'Plain text prompt here.', chosen: 'Sure.', rejected: 'Nope.', system: 'Be polite.' },
    ]),
  },
};

const TOKENIZERS = {
  'with a chat template (SmolLM2)': Tokenizer.load(fixture('tokenizers', 'smollm2')),
  'without a chat template (GPT-2)': Tokenizer.load(fixture('tokenizers', 'gpt2-bpe')),
};

for (const [format, file] of Object.entries(FILES)) {
  for (const [tokName, tokenizer] of Object.entries(TOKENIZERS)) {
    for (const setting of ['auto', 'plain', 'chat'] as PromptFormatSetting[]) {
      test(`${format}, tokenizer ${tokName}, --prompt-format ${setting}: trained prompt ids = generation prompt ids`, async (t) => {
        const dataFile = path.join(tmp, `${format}-${file.name}`);
        writeFileSync(dataFile, file.text);
        const promptFormat = resolvePromptFormat(tokenizer, setting);
        const data = await prepareTrainingData(tokenizer, { data: dataFile, seed: 0, maxLength: 4096, maxPromptLength: 4096, rationale: false, promptFormat });
        t.is(data.load.format, format);
        t.is(data.tokenization.promptFormat, promptFormat);
        const items = new Map((await loadPromptSet(dataFile)).map((item) => [item.id, item]));
        t.is(data.train.length, 2);
        for (const example of data.train) {
          const item = items.get(example.id);
          t.truthy(item, `prompt item for ${example.id}`);
          const generationIds = encodePrompt(tokenizer, item!.prompt, promptFormat, item!.system);
          const scored = example.pair.promptIds;
          if (scored.length < generationIds.length && promptFormat === 'plain') {
            // Plain text only: BPE merged the prompt's last characters with the completion's first
            // (TRL's rule then starts the completion where they diverge). Counted and warned about.
            t.true(data.tokenization.pairs.promptNotPrefix > 0);
            t.deepEqual(scored, generationIds.slice(0, scored.length), `${example.id}: scored prompt is a prefix of the generation prompt`);
          } else {
            t.deepEqual(scored, generationIds, `${example.id}: scored prompt vs generation prompt`);
          }
        }
      });
    }
  }
}

test('auto is chat exactly when the tokenizer has a chat template', (t) => {
  t.is(resolvePromptFormat(TOKENIZERS['with a chat template (SmolLM2)']), 'chat');
  t.is(resolvePromptFormat(TOKENIZERS['without a chat template (GPT-2)']), 'plain');
});

test('text and message prompts train identically (chat format): same tokens, same metrics', async (t) => {
  const pairs = [
    { prompt: 'What is the capital of France?', chosen: 'Paris.', rejected: 'Lyon.' },
    { prompt: 'Is ice cold?', chosen: 'Yes, ice is cold.', rejected: 'No.' },
    { prompt: 'Name a prime number.', chosen: 'Seven.', rejected: 'Nine.' },
    { prompt: 'Spell cat.', chosen: 'C-A-T.', rejected: 'K-A-T.' },
  ];
  const textFile = path.join(tmp, 'text-prompts.jsonl');
  const messageFile = path.join(tmp, 'message-prompts.jsonl');
  writeFileSync(textFile, jsonl(pairs));
  writeFileSync(messageFile, jsonl(pairs.map((p) => ({ ...p, prompt: [{ role: 'user', content: p.prompt }] }))));
  const run = async (data: string, name: string) => {
    const r = await train(
      {
        model: policyDir,
        data,
        out: path.join(tmp, name),
        loss: 'dpo',
        batchSize: 4,
        maxSteps: 2,
        lr: 1e-3,
        warmupSteps: 0,
        dtype: 'float32',
        refCache: false,
      },
      { log: () => {} },
    );
    const config = JSON.parse(readFileSync(path.join(r.runDir, 'config.json'), 'utf8')) as {
      config: { promptFormat: string };
      data: { tokenization: { pairs: unknown } };
    };
    return { rows: readJsonlRows<MetricsRow>(path.join(r.runDir, 'metrics.jsonl')), config };
  };
  const text = await run(textFile, 'text');
  const messages = await run(messageFile, 'messages');
  t.is(text.config.config.promptFormat, 'chat');
  t.is(messages.config.config.promptFormat, 'chat');
  t.is(text.rows.length, 2);
  for (let i = 0; i < 2; i++) {
    for (const key of ['loss', 'grad_norm', 'rewards/chosen', 'rewards/rejected', 'logps/chosen', 'logps/rejected', 'total_tokens'] as const) {
      t.is(text.rows[i]![key], messages.rows[i]![key], `step ${i + 1} ${key}`);
    }
  }
  // The trained model records its format; eval and generate take it, and refuse another.
  const final = path.join(tmp, 'text', 'final');
  const tok = Tokenizer.load(final);
  t.is(promptFormatFor(final, tok), 'chat');
  t.is(promptFormatFor(final, tok, 'chat'), 'chat');
  const err = t.throws(() => promptFormatFor(final, tok, 'plain'), { instanceOf: PromptFormatMismatch });
  t.regex(err!.message, /trained with --prompt-format chat .*drop --prompt-format/);
});

test('resume refuses another prompt format than the run was trained with', async (t) => {
  const data = path.join(tmp, 'resume.jsonl');
  writeFileSync(
    data,
    jsonl([
      { prompt: 'Hi?', chosen: 'Hello.', rejected: 'Bye.' },
      { prompt: 'Yes?', chosen: 'Yes.', rejected: 'No.' },
    ]),
  );
  const out = path.join(tmp, 'resume-run');
  await train(
    { model: policyDir, data, out, loss: 'sft', batchSize: 2, maxSteps: 1, saveEvery: 1, lr: 1e-4, warmupSteps: 0, refCache: false },
    { log: () => {} },
  );
  await t.throwsAsync(train({ resume: out, promptFormat: 'plain', maxSteps: 2 } as never, { log: () => {} }), {
    message: /trained with prompt format chat .*cannot continue with plain/,
  });
});

test('a pair whose rationale cannot fit is left out of every arm, so DPO and RDPO train on the same pairs', async (t) => {
  const tok = TOKENIZERS['with a chat template (SmolLM2)'];
  const pairs = [
    { id: 'fits', prompt: 'Capital of France?', chosen: 'Paris.', rejected: 'Rome.', rationale: 'Paris is the capital.', meta: {} },
    { id: 'too-long', prompt: 'Capital of Italy?', chosen: 'Rome.', rejected: 'Paris.', rationale: 'Rome is the capital. '.repeat(200), meta: {} },
  ];
  const opts = { data: pairs, seed: 0, maxLength: 256, maxPromptLength: 128, promptFormat: 'chat' as const, warn: () => {} };
  const rdpo = await prepareTrainingData(tok, { ...opts, rationale: true });
  const dpo = await prepareTrainingData(tok, { ...opts, rationale: false });
  t.deepEqual(
    rdpo.train.map((e) => e.id),
    ['fits'],
  );
  t.deepEqual(
    dpo.train.map((e) => e.id),
    ['fits'],
  );
  t.is(dpo.tokenization.rationalesDropped, 1);
  t.is(dpo.train[0]!.rationale, undefined, 'DPO examples carry no rationale row');
  const sft = await prepareTrainingData(tok, { ...opts, rationale: false, sameAsRationaleArm: false });
  t.deepEqual(sft.train.map((e) => e.id).sort(), ['fits', 'too-long']);
});
