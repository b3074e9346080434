// The resumable-job skeleton (lib/jobs/resumable_job.ts) that rationales, their filter, pairwise
// judging and eval's generation share: journals opened together, torn lines named, done rows
// skipped, each key queued once, the queue run with retries.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queueUndone, ResumableJournals, runQueue } from '../lib/jobs/resumable_job.js';
import { GeneratorError } from '../lib/llm/retry.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'rdpo-resumable-'));
const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 2 };

test('journals open together: rows per file, torn lines cut and named with what is redone', (t) => {
  const dir = tmp();
  const a = join(dir, 'a.jsonl');
  const b = join(dir, 'b.jsonl');
  writeFileSync(a, '{"k":"x"}\n{"k":"y"}\n{"k":"z", "torn');
  writeFileSync(b, '{"k":"w"}\n');
  const logs: string[] = [];
  const journals = ResumableJournals.open([a, b], 'that row is redone', (l) => logs.push(l));
  try {
    t.deepEqual(journals.rows, [[{ k: 'x' }, { k: 'y' }], [{ k: 'w' }]]);
    t.deepEqual(journals.tornBytes, ['{"k":"z", "torn'.length, 0]);
    t.deepEqual(logs, [`${a}: cut off a torn last line (15 bytes) left by an interrupted run; that row is redone`]);
    const done = journals.doneKeys((row) => ((row as { k: string }).k === 'y' ? undefined : (row as { k: string }).k));
    t.deepEqual([...done].sort(), ['w', 'x']);
  } finally {
    journals.close();
  }
  t.false(existsSync(`${a}.lock`), 'closing releases every lock');
  t.false(existsSync(`${b}.lock`));
});

test('a journal that cannot be opened closes the ones already open', (t) => {
  const dir = tmp();
  const a = join(dir, 'a.jsonl');
  const b = join(dir, 'b.jsonl');
  writeFileSync(b, '{"bad json\n{"k":1}\n');
  t.throws(() => ResumableJournals.open([a, b], 'redone', () => {}), { message: /b\.jsonl:1 is not valid JSON/ });
  t.false(existsSync(`${a}.lock`), 'the first journal was closed and its lock released');
});

test('queueUndone skips done keys and queues each other key once, in input order', (t) => {
  const items = [
    { id: '1', key: 'a' },
    { id: '2', key: 'b' },
    { id: '3', key: 'a' },
    { id: '4', key: 'c' },
  ];
  const q = queueUndone(
    items,
    new Set(['b']),
    (i) => i.key,
    (i) => i.id,
  );
  t.deepEqual(
    q.jobs.map((j) => j.id),
    ['1', '4'],
  );
  t.is(q.skipped, 1);
  t.is(q.duplicates, 1);
});

test('runQueue retries a retryable failure, reports a lasting one, and names the job in its retry note', async (t) => {
  const dir = tmp();
  const file = join(dir, 'out.jsonl');
  const journals = ResumableJournals.open([file], 'redone', () => {});
  const notes: string[] = [];
  const tries = new Map<string, number>();
  try {
    const outcome = await runQueue(
      [
        { id: 'flaky', item: 'flaky' },
        { id: 'broken', item: 'broken' },
        { id: 'fine', item: 'fine' },
      ],
      {
        label: 'test',
        noun: 'item',
        concurrency: 1,
        retry: FAST_RETRY,
        progress: false,
        log: (l) => notes.push(l),
        work: async (item) => {
          const n = (tries.get(item) ?? 0) + 1;
          tries.set(item, n);
          if (item === 'broken') throw new GeneratorError('always broken', false);
          if (item === 'flaky' && n === 1) throw new GeneratorError('try again', true);
          journals.journals[0]!.append({ item });
        },
      },
    );
    t.deepEqual(outcome.failed, [{ id: 'broken', error: 'always broken' }]);
    t.is(outcome.notRun, 0);
    t.false(outcome.interrupted);
  } finally {
    journals.close();
  }
  t.is(tries.get('flaky'), 2);
  t.is(tries.get('broken'), 1, 'a failure that is not retryable is tried once');
  t.true(
    notes.some((n) => n.startsWith('item flaky: try again; try 2 in')),
    notes.join('\n'),
  );
  t.is(readFileSync(file, 'utf8'), '{"item":"flaky"}\n{"item":"fine"}\n');
});
