// One text generator: the `generate` CLI, `serve`, eval's generation and the local
// rationale generator all go through inference/text_generator.ts, so one prompt with one seed gives
// one text on every path, and a tokenizer without an end token fails with one error everywhere.
import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NoEosTokenError, TextGenerator } from '../lib/inference/text_generator.js';
import { openGenerator } from '../lib/llm/connect.js';
import { ChatEngine } from '../lib/serve/chat_engine.js';
import { startServer } from '../lib/serve/server.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';

const MODEL = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'text-generator-'));
const PROMPT = 'Name three colours of the rainbow.';
const SEED = 7;
const readJsonl = (f: string) =>
  readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test.before(() => ensureDist());
test.after.always(() => rmSync(work, { recursive: true, force: true }));

test.serial('one prompt, one seed: the same sampled text from generate, eval, serve and the local rationale generator', async (t) => {
  const prompts = path.join(work, 'prompts.jsonl');
  writeFileSync(prompts, JSON.stringify({ id: 'p0', prompt: PROMPT }) + '\n');
  const sampling = ['--max-new-tokens', '12', '--temperature', '0.9', '--top-p', '0.95', '--seed', String(SEED)];

  const genOut = path.join(work, 'generate.jsonl');
  const g = await runCli(['generate', '--model', MODEL, '--prompts', prompts, '--out', genOut, ...sampling]);
  t.is(g.code, 0, g.stderr);
  const viaGenerate = readJsonl(genOut)[0]!.output as string;

  const evalOut = path.join(work, 'eval');
  const e = await runCli(['eval', '--model', MODEL, '--prompts', prompts, '--out', evalOut, '--json', ...sampling]);
  t.is(e.code, 0, e.stderr);
  const viaEval = readJsonl(path.join(evalOut, 'generations.jsonl'))[0]!.response as string;

  const server = await startServer({ engine: new ChatEngine(await TextGenerator.load(MODEL), { maxBatch: 4 }), modelId: 'tiny-chat', port: 0 });
  let viaServe: string;
  try {
    const res = await fetch(server.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: PROMPT }], max_tokens: 12, temperature: 0.9, top_p: 0.95, seed: SEED }),
    });
    t.is(res.status, 200);
    viaServe = (await res.json()).choices[0].message.content;
  } finally {
    await server.close(1000);
  }

  const local = await openGenerator(MODEL, { maxBatch: 2 });
  let viaRationaleGenerator: string;
  try {
    viaRationaleGenerator = (await local.complete([{ role: 'user', content: PROMPT }], { maxNewTokens: 12, temperature: 0.9, topP: 0.95, seed: SEED })).text;
  } finally {
    await local.close();
  }

  t.log(JSON.stringify(viaGenerate));
  t.true(viaGenerate.length > 0, 'the fixture model says something');
  t.is(viaEval, viaGenerate);
  t.is(viaServe, viaGenerate);
  t.is(viaRationaleGenerator, viaGenerate);
});

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
