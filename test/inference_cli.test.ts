// import-gguf → logprobs → generate through the built CLI, on the tiny GGUF fixture, against
// transformers' LlamaForCausalLM on the same weights (scripts/fixtures/make_tiny_gguf.py).
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { fixture, ggufTest, smolGguf } from './helpers/data_paths.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { Tokenizer } from '../lib/tokenize/tokenizer.js';

interface Expected {
  logprobs: { prompt: string; chosen: string; rejected: string; chosen_logp: number; rejected_logp: number; chosen_tokens: number; rejected_tokens: number }[];
  greedy: { prompt: string; new_tokens: number[] }[];
}

const dir = mkdtempSync(join(tmpdir(), 'inference-cli-'));
const model = join(dir, 'tiny');
const expected = JSON.parse(readFileSync(fixture('gguf', 'tiny-llama.expected.json'), 'utf8')) as Expected;
const readJsonl = (f: string) =>
  readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test.before(async () => {
  ensureDist();
  const r = await runCli(['import-gguf', fixture('gguf', 'tiny-llama.gguf'), '--out', model, '--dtype', 'f32']);
  if (r.code !== 0) throw new Error(`import-gguf failed: ${r.stderr}`);
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('import-gguf writes a complete model directory and reports it', (t) => {
  for (const f of ['model.safetensors', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
    t.true(existsSync(join(model, f)), f);
});

test('import-gguf: a bad file is a usage error naming it', async (t) => {
  const r = await runCli(['import-gguf', fixture('gguf', 'tiny-llama.expected.json'), '--out', join(dir, 'bad')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /tiny-llama\.expected\.json is not a GGUF file/);
  t.false(existsSync(join(dir, 'bad')));
});

test('logprobs: sums over completion tokens (EOS included) equal transformers', async (t) => {
  const data = join(dir, 'pairs.jsonl');
  writeFileSync(data, expected.logprobs.map((p) => JSON.stringify({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected }) + '\n').join(''));
  const out = join(dir, 'lp.jsonl');
  const r = await runCli(['logprobs', '--model', model, '--data', data, '--out', out, '--prompt-format', 'plain', '--batch-size', '2']);
  t.is(r.code, 0, r.stderr);
  const rows = readJsonl(out);
  t.is(rows.length, expected.logprobs.length);
  rows.forEach((row, i) => {
    const e = expected.logprobs[i]!;
    t.is(row.chosen_tokens, e.chosen_tokens);
    t.is(row.rejected_tokens, e.rejected_tokens);
    for (const k of ['chosen_logp', 'rejected_logp'] as const) {
      const got = row[k] as number;
      t.true(Math.abs(got - e[k]) <= 1e-4 * Math.abs(e[k]) + 1e-3, `${k} row ${i}: ${got} vs ${e[k]}`);
    }
  });
});

test('generate: chat template applied, greedy tokens equal transformers, stop strings cut', async (t) => {
  const prompts = join(dir, 'prompts.jsonl');
  writeFileSync(prompts, expected.greedy.map((g, i) => JSON.stringify({ question_id: i + 1, turns: [g.prompt, 'second turn ignored'] }) + '\n').join(''));
  const out = join(dir, 'gen.jsonl');
  const r = await runCli(['generate', '--model', model, '--prompts', prompts, '--out', out, '--max-new-tokens', '6', '--batch-size', '2']);
  t.is(r.code, 0, r.stderr);
  const rows = readJsonl(out);
  const tok = Tokenizer.load(model);
  rows.forEach((row, i) => {
    const e = expected.greedy[i]!;
    const eosAt = e.new_tokens.indexOf(tok.eosTokenId);
    const kept = eosAt >= 0 ? e.new_tokens.slice(0, eosAt) : e.new_tokens;
    t.is(row.question_id, i + 1);
    t.is(row.prompt, e.prompt);
    t.is(row.response, tok.decode(kept, { skipSpecialTokens: true }));
    t.is(row.tokens, kept.length);
  });
  // --stop cuts the text before the stop string.
  const first = rows[0]!.response as string;
  const stop = first.slice(Math.floor(first.length / 2), Math.floor(first.length / 2) + 1);
  if (stop.trim().length > 0) {
    const r2 = await runCli(['generate', '--model', model, '--prompts', prompts, '--out', out, '--max-new-tokens', '6', '--stop', stop]);
    t.is(r2.code, 0, r2.stderr);
    const cut = readJsonl(out)[0]!;
    t.is(cut.response, first.slice(0, first.indexOf(stop)));
    t.is(cut.stoppedBy, 'stop');
  }
});

ggufTest()('SmolLM2-135M-Instruct from its GGUF answers a simple chat prompt', async (t) => {
  const gguf = smolGguf!;
  const smol = join(dir, 'smol');
  t.is((await runCli(['import-gguf', gguf, '--out', smol])).code, 0);
  const prompts = join(dir, 'france.jsonl');
  writeFileSync(prompts, JSON.stringify({ prompt: 'What is the capital of France?' }) + '\n');
  const out = join(dir, 'france.out.jsonl');
  const r = await runCli(['generate', '--model', smol, '--prompts', prompts, '--out', out, '--max-new-tokens', '30']);
  t.is(r.code, 0, r.stderr);
  const row = readJsonl(out)[0]!;
  t.log(row.response);
  t.regex(row.response as string, /Paris/);
  t.is(row.stoppedBy, 'eos');
});
