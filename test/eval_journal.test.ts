import test from 'ava';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runPairwise, type JudgmentRow } from '../lib/eval/pairwise.js';
import { exactJudge, LlmJudge } from '../lib/eval/judge.js';
import { OpenAIGenerator } from '../lib/llm/openai_generator.js';
import { journalItems, lengthChecker } from './helpers/eval_items.js';
import { startChatServer } from './helpers/chat_server.js';
import { repoRoot } from './helpers/cli.js';

function rows(dir: string): JudgmentRow[] {
  return readFileSync(path.join(dir, 'judgments.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as JudgmentRow);
}

function lineCount(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0;
}

test('killed mid-run, then rerun: every judgment is in the journal exactly once', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'eval-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const journal = path.join(dir, 'judgments.jsonl');
  const child = spawn(process.execPath, ['--import=tsx', path.join(repoRoot, 'test/helpers/eval_pairwise_child.ts'), dir, '40'], {
    cwd: repoRoot,
    stdio: 'ignore',
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  // Wait until a few judgments are written, then kill it without warning.
  const deadline = Date.now() + 60_000;
  while (lineCount(journal) < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  t.is(await exited, 'SIGKILL');
  const before = rows(dir).length;
  t.true(before >= 5 && before < 30, `${before} judgments before the kill`);
  // A write cut short leaves a torn last line: the rerun must cut it off, not choke on it.
  appendFileSync(journal, '{"key":"torn-wr');

  let calls = 0;
  const judge = exactJudge('longer', (p, a, b) => {
    calls++;
    return lengthChecker(p, a, b);
  });
  const logs: string[] = [];
  const summary = await runPairwise({ items: journalItems(), judge, outDir: dir, modelA: 'a', modelB: 'b', progress: false, log: (l) => logs.push(l) });
  t.is(calls, 30 - before);
  t.true(logs.some((l) => l.includes('torn last line')));
  const all = rows(dir);
  t.is(all.length, 30);
  t.is(new Set(all.map((r) => r.key)).size, 30);
  t.deepEqual(new Set(all.map((r) => r.id)), new Set(journalItems().map((i) => i.id)));
  t.true(summary.complete);
  t.is(summary.winsA, 15);
  t.is(summary.winsB, 15);
  t.is(summary.winrate, 0.5);
  const onDisk = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  t.is(onDisk.judgments, 30);

  // A third run has nothing left to do.
  calls = 0;
  await runPairwise({ items: journalItems(), judge, outDir: dir, modelA: 'a', modelB: 'b', progress: false, log: () => {} });
  t.is(calls, 0);
  t.is(rows(dir).length, 30);
});

test('an LLM judge over HTTP: both orders × repeats, answers mapped back, junk counted as unparseable', async (t) => {
  // The served "judge" prefers the response that mentions "correct", and answers junk for item-3.
  const server = await startChatServer({
    answer: (req) => {
      const content: string = req.body.messages[0].content;
      if (content.includes('Question 3?')) return 'Hmm, hard to say.';
      const first = /Response 1: (.*)\nEND OF RESPONSE 1/s.exec(content)![1]!;
      return first.includes('correct') ? 'Response 1' : 'Response 2';
    },
  });
  t.teardown(() => server.close());
  const dir = mkdtempSync(path.join(tmpdir(), 'eval-llm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const items = Array.from({ length: 4 }, (_, i) => ({
    id: `item-${i}`,
    prompt: `Question ${i}?`,
    a: i < 3 ? 'A correct answer.' : 'A answer.',
    b: 'B answer.',
    aTokens: 3,
    bTokens: 2,
  }));
  const judge = new LlmJudge(await OpenAIGenerator.connect({ baseURL: server.url }));
  const summary = await runPairwise({ items, judge, outDir: dir, modelA: 'rdpo', modelB: 'dpo', repeats: 2, progress: false, log: () => {} });
  t.is(server.chatRequests().length, 4 * 2 * 2);
  for (const req of server.chatRequests()) {
    t.is(req.body.temperature, 0);
    t.is(req.body.messages.length, 1);
    t.is(req.body.messages[0].role, 'user');
  }
  t.is(summary.judgments, 16);
  t.is(summary.winsA, 12);
  t.is(summary.winsB, 0);
  t.is(summary.unparseable, 4);
  t.is(summary.winrate, 12 / 16);
  t.is(summary.winrateExcludingTies, 1);
  t.is(summary.byOrder.AB.winsA, 6);
  t.is(summary.byOrder.BA.winsA, 6);
  t.is(summary.lengths.A.tokens!.mean, 3);
  t.is(summary.lengths.B.chars.mean, 'B answer.'.length);
  // Rerun: all done, no request.
  await runPairwise({ items, judge, outDir: dir, modelA: 'rdpo', modelB: 'dpo', repeats: 2, progress: false, log: () => {} });
  t.is(server.chatRequests().length, 16);
});
