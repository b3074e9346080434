// Pairwise comparison of two sets of responses by a judge: every item in both presentation orders,
// N repeats (one call per item for an exact checker), each judgment appended to a crash-safe journal
// (OUT/judgments.jsonl) keyed by a hash of what was judged, so a rerun skips what is done.
// OUT/summary.json is rewritten from the journal at the end of every run.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ResumableJournals, runQueue } from '../jobs/resumable_job.js';
import type { Interruption, JobOutcome } from '../jobs/runner.js';
import { DEFAULT_RETRY, GeneratorError, type RetryPolicy } from '../llm/retry.js';
import { writeFileAtomic } from '../util/atomic_write.js';
import type { PairwiseJudge } from './judge.js';
import { choiceToWinner, type Conversation, type JudgeChoice, type Order } from './judge_prompt.js';
import { distribution, type Distribution } from './stats.js';
import { summarizeWinrate, type Winner, type WinrateSummary } from './winrate.js';

export interface PairwiseItem {
  id: string;
  prompt: Conversation;
  /** Side A's response (the candidate), and B's (the baseline). */
  a: string;
  b: string;
  /** Response lengths in tokens, when the generator recorded them. */
  aTokens?: number;
  bTokens?: number;
}

/** One line of judgments.jsonl. */
export interface JudgmentRow {
  key: string;
  id: string;
  order: Order;
  repeat: number;
  judge: string;
  /** About the shown positions (1 = shown first), as parsed from the answer. */
  choice: JudgeChoice;
  /** About the sides. */
  winner: Winner;
  raw?: string;
  modelA: string;
  modelB: string;
}

export interface LengthSummary {
  chars: Distribution;
  /** Only when every response of the side has a token count. */
  tokens?: Distribution;
}

export interface PairwiseSummary extends WinrateSummary {
  modelA: string;
  modelB: string;
  judge: string;
  judgeKind: 'llm' | 'exact';
  orders: Order[];
  repeats: number;
  /** Judgments this comparison asks for; `judgments` of them are in the journal. */
  expectedJudgments: number;
  complete: boolean;
  failed: Array<{ id: string; error: string }>;
  lengths: { A: LengthSummary; B: LengthSummary };
}

export interface PairwiseOptions {
  items: readonly PairwiseItem[];
  judge: PairwiseJudge;
  outDir: string;
  /** Names written into the journal and summary. */
  modelA: string;
  modelB: string;
  /** Repeats per order for an LLM judge (default 1); an exact checker is asked once. */
  repeats?: number;
  concurrency?: number;
  retry?: RetryPolicy;
  interruption?: Interruption;
  progress?: boolean;
  log?: (line: string) => void;
}

function canonical(prompt: Conversation): unknown {
  return typeof prompt === 'string' ? prompt : prompt.map((m) => [m.role, m.content]);
}

/** The resume key of one judgment: what was judged, by whom, in which order, which repeat. */
export function judgmentKey(judge: string, item: Pick<PairwiseItem, 'prompt' | 'a' | 'b'>, order: Order, repeat: number): string {
  return createHash('sha256')
    .update(JSON.stringify([judge, canonical(item.prompt), item.a, item.b, order, repeat]))
    .digest('hex');
}

interface Job {
  key: string;
  item: PairwiseItem;
  order: Order;
  repeat: number;
}

function lengthSummary(texts: readonly string[], tokens: readonly (number | undefined)[]): LengthSummary {
  const counted = tokens.filter((t): t is number => typeof t === 'number');
  return {
    chars: distribution(texts.map((t) => [...t].length)),
    ...(counted.length === tokens.length && counted.length > 0 ? { tokens: distribution(counted) } : {}),
  };
}

export async function runPairwise(options: PairwiseOptions): Promise<PairwiseSummary> {
  const { judge, items } = options;
  const log = options.log ?? ((line) => process.stderr.write(line + '\n'));
  const repeats = judge.kind === 'exact' ? 1 : (options.repeats ?? 1);
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be a whole number ≥ 1, got ${options.repeats}`);
  const orders: Order[] = judge.kind === 'exact' ? ['AB'] : ['AB', 'BA'];
  const seenIds = new Set<string>();
  for (const item of items) {
    if (seenIds.has(item.id)) throw new RangeError(`two items share the id ${JSON.stringify(item.id)}; item ids must be unique`);
    seenIds.add(item.id);
  }

  mkdirSync(options.outDir, { recursive: true });
  const journalFile = join(options.outDir, 'judgments.jsonl');
  const journals = ResumableJournals.open([journalFile], 'that judgment is redone', log);
  const journal = journals.journals[0]!;
  const done = new Map<string, JudgmentRow>();
  let outcome: JobOutcome = { failed: [], notRun: 0, interrupted: false };
  const wanted: Job[] = [];
  try {
    for (const row of journals.rows[0]!) {
      const r = row as Partial<JudgmentRow>;
      if (typeof r.key === 'string') done.set(r.key, r as JudgmentRow);
    }
    for (const item of items) {
      for (let repeat = 0; repeat < repeats; repeat++) {
        for (const order of orders) wanted.push({ key: judgmentKey(judge.name, item, order, repeat), item, order, repeat });
      }
    }
    // Not queueUndone: two items with the same texts share a key, and the summary counts each of them.
    const jobs = wanted.filter((j) => !done.has(j.key)).map((j) => ({ id: `${j.item.id}/${j.order}/${j.repeat}`, item: j }));
    if (jobs.length < wanted.length) log(`${journalFile}: ${wanted.length - jobs.length} of ${wanted.length} judgments already done; ${jobs.length} to go`);
    outcome = await runQueue(jobs, {
      label: 'judging',
      noun: 'judging',
      concurrency: options.concurrency ?? 4,
      retry: options.retry ?? DEFAULT_RETRY,
      ...(options.interruption ? { interruption: options.interruption } : {}),
      ...(options.progress !== undefined ? { progress: options.progress } : {}),
      log,
      work: async (job, signal) => {
        const [first, second] = job.order === 'AB' ? [job.item.a, job.item.b] : [job.item.b, job.item.a];
        let answer;
        try {
          answer = await judge.judge(job.item.prompt, first, second, { repeat: job.repeat, ...(signal ? { signal } : {}) });
        } catch (err) {
          // A failing exact checker is a bug in the checker, not worth retrying; report it per item.
          if (err instanceof GeneratorError) throw err;
          throw new GeneratorError(err instanceof Error ? err.message : String(err), false);
        }
        const row: JudgmentRow = {
          key: job.key,
          id: job.item.id,
          order: job.order,
          repeat: job.repeat,
          judge: judge.name,
          choice: answer.choice,
          winner: choiceToWinner(answer.choice, job.order),
          ...(answer.raw !== undefined ? { raw: answer.raw } : {}),
          modelA: options.modelA,
          modelB: options.modelB,
        };
        journal.append(row);
        done.set(job.key, row);
      },
    });
  } finally {
    journals.close();
  }

  const judged = wanted.map((j) => done.get(j.key)).filter((r): r is JudgmentRow => r !== undefined);
  const summary: PairwiseSummary = {
    modelA: options.modelA,
    modelB: options.modelB,
    judge: judge.name,
    judgeKind: judge.kind,
    orders,
    repeats,
    expectedJudgments: wanted.length,
    ...summarizeWinrate(judged),
    complete: judged.length === wanted.length,
    failed: outcome.failed,
    lengths: {
      A: lengthSummary(
        items.map((i) => i.a),
        items.map((i) => i.aTokens),
      ),
      B: lengthSummary(
        items.map((i) => i.b),
        items.map((i) => i.bTokens),
      ),
    },
  };
  writeFileAtomic(join(options.outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

export function formatPairwiseSummary(s: PairwiseSummary): string {
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(1)}%`);
  const lines = [
    `${s.modelA} vs ${s.modelB}, judged by ${s.judge}: ${s.items} items, ${s.judgments}/${s.expectedJudgments} judgments` +
      (s.judgeKind === 'llm' ? ` (both orders × ${s.repeats} repeat${s.repeats === 1 ? '' : 's'})` : ''),
    `winrate of ${s.modelA}: ${pct(s.winrate)} ± ${(100 * s.winrateStdErr).toFixed(1)} (ties half), ${pct(s.winrateExcludingTies)} (ties excluded)`,
    `wins ${s.winsA}, losses ${s.winsB}, ties ${s.ties}, unparseable ${s.unparseable}`,
  ];
  if (s.judgeKind === 'llm') {
    lines.push(`by order: A shown first ${pct(s.byOrder.AB.winrate)}, B shown first ${pct(s.byOrder.BA.winrate)}`);
  }
  const len = (l: LengthSummary) => `${l.chars.mean.toFixed(0)} chars${l.tokens ? `, ${l.tokens.mean.toFixed(1)} tokens` : ''}`;
  lines.push(`mean length: ${s.modelA} ${len(s.lengths.A)}; ${s.modelB} ${len(s.lengths.B)}`);
  if (!s.complete) {
    lines.push(
      `incomplete: ${s.expectedJudgments - s.judgments} judgments missing${s.failed.length ? ` (${s.failed.length} failed)` : ''}; rerun the same command to finish`,
    );
    for (const f of s.failed.slice(0, 5)) lines.push(`  ${f.id}: ${f.error}`);
    if (s.failed.length > 5) lines.push(`  … and ${s.failed.length - 5} more (summary.json lists them all)`);
  }
  return lines.join('\n');
}
