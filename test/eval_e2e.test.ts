// End to end on a real tiny model (the demo's from-scratch Llama with the byte tokenizer): `eval`
// in its three modes, an LLM judge served by `rdpo-native serve` over a real socket, and a tiny
// `compare` with the exact checker.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeEvalProblems, makePreferencePairs, questionText, splitQuestions } from '../lib/demo/arithmetic_task.js';
import { createTinyLlama } from '../lib/demo/tiny_llama.js';
import { cliPath, runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';

const work = mkdtempSync(path.join(tmpdir(), 'eval-e2e-'));
const model = path.join(work, 'tiny');
const data = path.join(work, 'pairs.jsonl');
const prompts = path.join(work, 'prompts.jsonl');

test.before(() => {
  ensureDist();
  createTinyLlama(model, { hiddenSize: 32, layers: 2, heads: 2, kvHeads: 1, intermediateSize: 64, maxPositions: 1024 }, 1);
  const pairs = makePreferencePairs(80, 5, splitQuestions().train);
  writeFileSync(
    data,
    pairs.map((p) => JSON.stringify({ id: p.id, prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, rationale: p.rationale })).join('\n') + '\n',
  );
  const qs = makeEvalProblems(6, 9, 13).map((p, i) => ({ id: `q${i}`, prompt: questionText(p) }));
  writeFileSync(prompts, qs.map((q) => JSON.stringify(q)).join('\n') + '\n');
});
test.after.always(() => rmSync(work, { recursive: true, force: true }));

const json = (stdout: string) => JSON.parse(stdout) as Record<string, any>;

test.serial('eval --data: log-prob accuracy without a reference; with itself as reference every reward is 0', async (t) => {
  const alone = await runCli(['eval', '--model', model, '--data', data, '--eval-size', '12', '--out', path.join(work, 'pref1'), '--json']);
  t.is(alone.code, 0, alone.stderr);
  const a = json(alone.stdout);
  t.is(a.pairs, 12);
  t.is(a.rewardAccuracy, null);
  t.true(a.logprobAccuracy >= 0 && a.logprobAccuracy <= 1);
  t.is(
    readFileSync(path.join(work, 'pref1', 'preference_pairs.jsonl'), 'utf8')
      .trim()
      .split('\n').length,
    12,
  );
  const self = await runCli(['eval', '--model', model, '--ref-model', model, '--data', data, '--eval-size', '12', '--out', path.join(work, 'pref2'), '--json']);
  t.is(self.code, 0, self.stderr);
  const s = json(self.stdout);
  t.is(s.rewardAccuracy, 0);
  t.is(s.meanRewardMargin, 0);
  t.is(s.logprobAccuracy, a.logprobAccuracy);
});

test.serial('eval --prompts: greedy generation with length statistics, resumed without regenerating', async (t) => {
  const out = path.join(work, 'gen');
  const r = await runCli(['eval', '--model', model, '--prompts', prompts, '--max-new-tokens', '8', '--out', out, '--json']);
  t.is(r.code, 0, r.stderr);
  const s = json(r.stdout);
  t.is(s.count, 6);
  t.true(s.tokens.max <= 8);
  t.true(s.chars.mean > 0 || s.tokens.mean === 0);
  const file = path.join(out, 'generations.jsonl');
  const before = readFileSync(file, 'utf8');
  const again = await runCli(['eval', '--model', model, '--prompts', prompts, '--max-new-tokens', '8', '--out', out, '--json']);
  t.is(again.code, 0, again.stderr);
  t.is(readFileSync(file, 'utf8'), before);
});

test.serial('eval --model-a/--model-b model dirs with the exact checker: identical greedy models tie', async (t) => {
  const r = await runCli([
    'eval',
    '--model-a',
    model,
    '--model-b',
    model,
    '--prompts',
    prompts,
    '--judge',
    'exact:arithmetic',
    '--max-new-tokens',
    '8',
    '--out',
    path.join(work, 'pair'),
    '--json',
  ]);
  t.is(r.code, 0, r.stderr);
  const s = json(r.stdout);
  t.is(s.judgments, 6);
  t.is(s.winsA, s.winsB);
});

function startServe(): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, 'serve', '--model', model, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+)\/v1/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
}

test.serial('eval with an LLM judge served by `rdpo-native serve` over a real socket', async (t) => {
  const { url, child } = await startServe();
  t.teardown(() => child.kill('SIGTERM'));
  const gen = path.join(work, 'gen', 'generations.jsonl');
  const out = path.join(work, 'llm');
  const r = await runCli([
    'eval',
    '--model-a',
    gen,
    '--model-b',
    gen,
    '--judge',
    `openai:${url}`,
    '--repeats',
    '1',
    '--judge-max-tokens',
    '4',
    '--out',
    out,
    '--json',
  ]);
  t.is(r.code, 0, r.stderr);
  const s = json(r.stdout);
  // A random tiny judge mostly answers junk: whatever it says, every judgment is recorded and counted.
  t.is(s.judgments, 12);
  t.is(s.winsA + s.winsB + s.ties + s.unparseable, 12);
  t.is(readFileSync(path.join(out, 'judgments.jsonl'), 'utf8').trim().split('\n').length, 12);
});

test.serial('a tiny compare with the exact checker writes the report, and a rerun skips the finished runs', async (t) => {
  const out = path.join(work, 'sweep');
  const args = [
    'compare',
    '--model',
    model,
    '--data',
    data,
    '--sizes',
    '8,16',
    '--eval-size',
    '8',
    '--judge',
    'exact:arithmetic',
    '--max-steps',
    '2',
    '--sft-max-steps',
    '2',
    '--batch-size',
    '2',
    '--lr',
    '1e-3',
    '--sft-lr',
    '1e-3',
    '--max-new-tokens',
    '8',
    '--out',
    out,
  ];
  const r = await runCli(args, { timeoutMs: 600_000 });
  t.is(r.code, 0, r.stderr);
  const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
  t.is(results.rows.length, 4);
  t.is(results.rdpoVsDpo.length, 2);
  const report = readFileSync(path.join(out, 'report.md'), 'utf8');
  t.true(report.includes('## Findings'));
  for (const f of ['winrate_vs_sft.svg', 'reward_accuracy.svg', 'mean_length.svg', 'rdpo_vs_dpo.svg']) t.true(existsSync(path.join(out, 'plots', f)));
  // Nested subsets: the 8-pair file is the start of the 16-pair file.
  const small = readFileSync(path.join(out, 'data', 'train-8.jsonl'), 'utf8');
  t.true(readFileSync(path.join(out, 'data', 'train-16.jsonl'), 'utf8').startsWith(small));
  const again = await runCli(args, { timeoutMs: 600_000 });
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /sft: trained already/);
  t.regex(again.stderr, /rdpo-16: trained already/);
});
