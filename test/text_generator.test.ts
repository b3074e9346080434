// One text generator: the `generate` CLI, `serve`, eval's generation, the programmatic API and the
// local rationale generator all go through inference/text_generator.ts (and the row-writers through
// inference/generation.ts), so a prompt with a seed gives one text on every path, and a tokenizer
// without an end token fails with one error everywhere.
import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRows, generationKey, promptSeed } from '../lib/inference/generation.js';
import { NoEosTokenError, TextGenerator } from '../lib/inference/text_generator.js';
import { openGenerator } from '../lib/llm/connect.js';
import { ChatEngine } from '../lib/serve/chat_engine.js';
import { startServer } from '../lib/serve/server.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'text-generator-'));
const PROMPT = 'Name three colours of the rainbow.';
const readJsonl = (f: string) =>
  readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test.before(() => ensureDist());
test.after.always(() => rmSync(work, { recursive: true, force: true }));

// Prompt i of a run samples with seed + i in a call of its own (inference/generation.ts): its text is
// one function of (prompt, seed + i), whatever the batch size and whatever the other prompts are.
const PROMPTS = ['Name three colours of the rainbow.', 'Say hello.', 'What is two plus two?', 'Write a word that rhymes with cat.'];
const SEEDS = [7, 11];
const SAMPLING = { maxNewTokens: 12, temperature: 0.9, topP: 0.95 };
const samplingFlags = (seed: number) => [
  '--max-new-tokens',
  String(SAMPLING.maxNewTokens),
  '--temperature',
  String(SAMPLING.temperature),
  '--top-p',
  String(SAMPLING.topP),
  '--seed',
  String(seed),
];
const writePrompts = (name: string, prompts: readonly string[]) => {
  const file = path.join(work, name);
  writeFileSync(file, prompts.map((prompt, i) => JSON.stringify({ id: `p${i}`, prompt }) + '\n').join(''));
  return file;
};

test.serial(
  'several prompts, several seeds: the same text per (prompt, seed) from generate, eval, the API, serve and the rationale generator, at any batch size',
  async (t) => {
    const prompts = writePrompts('prompts.jsonl', PROMPTS);
    // The reference: each prompt alone, one native call, with the seed the rule gives it.
    const gen = await TextGenerator.load(MODEL);
    const expected = new Map<number, string[]>();
    try {
      for (const seed of SEEDS) {
        const texts: string[] = [];
        for (const [i, prompt] of PROMPTS.entries()) {
          const [out] = await gen.generate([{ promptIds: gen.encode(prompt, 'chat') }], { ...SAMPLING, seed: promptSeed(seed, i) });
          texts.push(out!.text);
        }
        expected.set(seed, texts);
      }
      // A seed that changed nothing could not tell a wrong seed rule from the right one.
      t.notDeepEqual(expected.get(SEEDS[0]!), expected.get(SEEDS[1]!), 'the two seeds sample differently');

      // The programmatic API, at two batch sizes.
      for (const seed of SEEDS) {
        for (const batchSize of [1, 3]) {
          const got: string[] = [];
          const sampling = { ...SAMPLING, seed };
          const indexed = PROMPTS.map((prompt, index) => {
            const item = { id: `p${index}`, prompt };
            return { item, index, key: generationKey(MODEL, item, sampling, 'chat') };
          });
          await generateRows(gen, indexed, { sampling, promptFormat: 'chat', batchSize, onRows: (rows) => got.push(...rows.map((r) => r.response)) });
          t.deepEqual(got, expected.get(seed), `API, seed ${seed}, batch size ${batchSize}`);
        }
      }
    } finally {
      await gen.dispose();
    }

    for (const seed of SEEDS) {
      for (const batchSize of [1, 3]) {
        const genOut = path.join(work, `generate-${seed}-${batchSize}.jsonl`);
        const g = await runCli([
          'generate',
          '--model',
          MODEL,
          '--prompts',
          prompts,
          '--out',
          genOut,
          '--batch-size',
          String(batchSize),
          ...samplingFlags(seed),
        ]);
        t.is(g.code, 0, g.stderr);
        t.deepEqual(
          readJsonl(genOut).map((r) => r.response),
          expected.get(seed),
          `generate, seed ${seed}, batch size ${batchSize}`,
        );
      }
      const evalOut = path.join(work, `eval-${seed}`);
      const e = await runCli(['eval', '--model', MODEL, '--prompts', prompts, '--out', evalOut, '--json', '--batch-size', '3', ...samplingFlags(seed)]);
      t.is(e.code, 0, e.stderr);
      t.deepEqual(
        readJsonl(path.join(evalOut, 'generations.jsonl')).map((r) => r.response),
        expected.get(seed),
        `eval, seed ${seed}`,
      );
    }

    // Other prompts around prompt 2 leave its text alone.
    const others = writePrompts('others.jsonl', ['Count to three.', 'Name a fruit.', PROMPTS[2]!, 'Name a city.']);
    const othersOut = path.join(work, 'others.jsonl.out');
    const o = await runCli(['generate', '--model', MODEL, '--prompts', others, '--out', othersOut, '--batch-size', '4', ...samplingFlags(SEEDS[0]!)]);
    t.is(o.code, 0, o.stderr);
    t.is(readJsonl(othersOut)[2]!.response, expected.get(SEEDS[0]!)![2]);

    // serve and the local rationale generator take the client's seed per request: seed + i asks for prompt i's text.
    const server = await startServer({ engine: new ChatEngine(await TextGenerator.load(MODEL), { maxBatch: 4 }), modelId: 'tiny-chat', port: 0 });
    try {
      const answers = await Promise.all(
        PROMPTS.map(async (prompt, i) => {
          const res = await fetch(server.url + '/v1/chat/completions', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              messages: [{ role: 'user', content: prompt }],
              max_tokens: SAMPLING.maxNewTokens,
              temperature: SAMPLING.temperature,
              top_p: SAMPLING.topP,
              seed: promptSeed(SEEDS[1], i),
            }),
          });
          t.is(res.status, 200);
          return (await res.json()).choices[0].message.content as string;
        }),
      );
      t.deepEqual(answers, expected.get(SEEDS[1]!), 'serve');
    } finally {
      await server.close(1000);
    }

    const local = await openGenerator(MODEL, { maxBatch: 2 });
    try {
      const texts: string[] = [];
      for (const [i, prompt] of PROMPTS.entries()) {
        texts.push((await local.complete([{ role: 'user', content: prompt }], { ...SAMPLING, seed: promptSeed(SEEDS[0], i) })).text);
      }
      t.deepEqual(texts, expected.get(SEEDS[0]!), 'the local rationale generator');
    } finally {
      await local.close();
    }
    t.true(
      expected.get(SEEDS[0]!)!.every((text) => text.length > 0),
      'the fixture model says something to every prompt',
    );
  },
);

test.serial('a tokenizer without an end token: one error, from the library, generate and eval alike', async (t) => {
  const dir = path.join(work, 'no-eos');
  cpSync(MODEL, dir, { recursive: true });
  const edit = (file: string, drop: string) => {
    const p = path.join(dir, file);
    const json = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
    delete json[drop];
    writeFileSync(p, JSON.stringify(json));
  };
  edit('tokenizer_config.json', 'eos_token');
  edit('generation_config.json', 'eos_token_id');
  const err = await t.throwsAsync(TextGenerator.load(dir), { instanceOf: NoEosTokenError });
  const message = err!.message;
  t.regex(message, /no-eos: the tokenizer names no end-of-sequence token.*set eos_token in tokenizer_config\.json/);

  const prompts = path.join(work, 'prompts.jsonl');
  writeFileSync(prompts, JSON.stringify({ id: 'p0', prompt: PROMPT }) + '\n');
  const g = await runCli(['generate', '--model', dir, '--prompts', prompts, '--out', path.join(work, 'no-eos.jsonl')]);
  t.is(g.code, 2);
  t.true(g.stderr.includes(message), g.stderr);
  const e = await runCli(['eval', '--model', dir, '--prompts', prompts, '--out', path.join(work, 'no-eos-eval')]);
  t.is(e.code, 2);
  t.true(e.stderr.includes(message), e.stderr);
});

test('the cutting rule: end token, the row budget, stop strings (shortest token prefix), usage counts', async (t) => {
  const gen = await TextGenerator.load(MODEL);
  try {
    const eos = gen.eosTokenIds[0]!;
    const words = gen.tokenizer.encode('one two three four', { addSpecialTokens: false });
    const n = words.length;
    t.deepEqual(gen.finish([...words, eos], n + 5, []), { text: 'one two three four', ids: words, tokens: n, generatedTokens: n + 1, stoppedBy: 'eos' });
    // A row whose budget is below the batch's: cut to its own budget, an end token beyond it ignored.
    t.like(gen.finish([...words, eos], n - 1, []), { tokens: n - 1, generatedTokens: n - 1, stoppedBy: 'length' });
    const cut = gen.finish([...words, eos], n + 5, [' three']);
    t.like(cut, { text: 'one two', stoppedBy: 'stop', generatedTokens: n + 1 });
    t.deepEqual(cut.ids, words.slice(0, cut.tokens));
    t.true(gen.tokenizer.decode(words.slice(0, cut.tokens)).includes(' three'));
    t.false(gen.tokenizer.decode(words.slice(0, cut.tokens - 1)).includes(' three'));
  } finally {
    await gen.dispose();
  }
});
