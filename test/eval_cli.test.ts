import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeEvalProblems, questionText } from '../lib/demo/arithmetic_task.js';
import { repoRoot, runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { startChatServer } from './helpers/chat_server.js';

test.before(() => ensureDist());

/** Generation files for 20 addition questions: A is right on 15, B on 10 (both right on 5, both wrong on 0). */
function fixtures(dir: string) {
  const problems = makeEvalProblems(20, 19, 11);
  const prompts = problems.map((p, i) => ({ id: `q${i}`, prompt: [{ role: 'user', content: questionText(p) }] }));
  const aRight = (i: number) => i < 15;
  const bRight = (i: number) => i >= 10;
  const gen = (right: (i: number) => boolean, model: string) =>
    problems
      .map((p, i) =>
        JSON.stringify({ id: `q${i}`, prompt: prompts[i]!.prompt, response: `${p.a} + ${p.b} = ${right(i) ? p.answer : p.answer + 1}.`, model, tokens: 8 }),
      )
      .join('\n') + '\n';
  const files = { prompts: path.join(dir, 'prompts.jsonl'), a: path.join(dir, 'rdpo.jsonl'), b: path.join(dir, 'dpo.jsonl') };
  writeFileSync(files.prompts, prompts.map((p) => JSON.stringify(p)).join('\n') + '\n');
  writeFileSync(files.a, gen(aRight, 'rdpo'));
  writeFileSync(files.b, gen(bRight, 'dpo'));
  return files;
}

test('eval --model-a/--model-b generation files with the exact checker: winrate, ties, resume', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'eval-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = fixtures(dir);
  const out = path.join(dir, 'out');
  const args = ['eval', '--model-a', f.a, '--model-b', f.b, '--prompts', f.prompts, '--judge', 'exact:arithmetic', '--out', out];
  const r = await runCli(args);
  t.is(r.code, 0, r.stderr);
  // A right & B wrong: 10 wins; A wrong & B right: 5 losses; both right: 5 ties.
  t.regex(r.stdout, /winrate of rdpo: 62\.5% .*\(ties half\), 66\.7% \(ties excluded\)/);
  t.regex(r.stdout, /wins 10, losses 5, ties 5, unparseable 0/);
  const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
  t.like(summary, { modelA: 'rdpo', modelB: 'dpo', judge: 'exact:arithmetic', judgments: 20, winsA: 10, winsB: 5, ties: 5, complete: true });
  t.is(summary.lengths.A.tokens.mean, 8);
  const again = await runCli(args);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /20 of 20 judgments already done; 0 to go/);
  t.is(readFileSync(path.join(out, 'judgments.jsonl'), 'utf8').trim().split('\n').length, 20);
});

test('eval with an LLM judge on an OpenAI-compatible server: both orders × repeats over a real socket', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'eval-cli-llm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = fixtures(dir);
  // This "judge" always picks the response shown first: a pure position bias, which both orders cancel.
  const server = await startChatServer({ answer: () => 'Response 1' });
  t.teardown(() => server.close());
  const out = path.join(dir, 'out');
  const r = await runCli(['eval', '--model-a', f.a, '--model-b', f.b, '--judge', `openai:${server.url}`, '--repeats', '2', '--out', out, '--json']);
  t.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.is(s.judgments, 20 * 2 * 2);
  t.is(s.winrate, 0.5);
  t.is(s.byOrder.AB.winrate, 1);
  t.is(s.byOrder.BA.winrate, 0);
  t.is(server.chatRequests().length, 80);
  t.true(server.chatRequests().every((q) => q.body.temperature === 0 && q.body.messages.length === 1));
});

test('eval: a comparison without --judge is a usage error', async (t) => {
  const r = await runCli(['eval', '--model-a', 'x.jsonl', '--model-b', 'y.jsonl']);
  t.is(r.code, 2);
  t.regex(r.stderr, /needs --judge/);
});

test('eval --preset paper: sampled answers (temperature 1, top-p 0.95) within 2,048 tokens; explicit flags win', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'eval-preset-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const prompts = path.join(dir, 'prompts.jsonl');
  writeFileSync(prompts, ['Say hi.', 'Name a colour.'].map((q, i) => JSON.stringify({ id: `p${i}`, prompt: q })).join('\n') + '\n');
  const model = path.join(repoRoot, 'test', 'fixtures', 'models', 'tiny-chat');
  const r = await runCli([
    'eval',
    '--model',
    model,
    '--prompts',
    prompts,
    '--preset',
    'paper',
    '--max-new-tokens',
    '6',
    '--out',
    path.join(dir, 'out'),
    '--json',
  ]);
  t.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { sampling: Record<string, number>; count: number };
  t.deepEqual(summary.sampling, { maxNewTokens: 6, temperature: 1, topP: 0.95, topK: 0, seed: 0 });
  t.is(summary.count, 2);
  const bad = await runCli(['eval', '--model', model, '--prompts', prompts, '--preset', 'fast', '--out', path.join(dir, 'bad')]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--preset must be paper/);
});
