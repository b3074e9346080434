// The quality filter: reading judge answers, the paper's drop rule (any score ≤ 3), and a full
// filter run against a real local HTTP judge, resumed.
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDroppedFile, filterRationales } from '../lib/rationales/filter.js';
import { keepRationale, parseScores } from '../lib/rationales/judge.js';
import { OpenAIGenerator } from '../lib/llm/openai_generator.js';
import { startChatServer } from './helpers/chat_server.js';

const FAST = { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100, maxRetryAfterMs: 1000 };

test('parseScores reads strict JSON, fenced JSON, JSON in prose, nested JSON, and key: value text', (t) => {
  const four = { helpfulness: 4, relatedness: 5, correctness: 4, coherence: 5 };
  t.deepEqual(parseScores('{"helpfulness": 4, "relatedness": 5, "correctness": 4, "coherence": 5}'), four);
  t.deepEqual(parseScores('```json\n{"Helpfulness": "4", "relatedness": 5, "correctness": 4.0, "coherence": 5}\n```'), four);
  t.deepEqual(parseScores('Sure! Here are the scores: {"helpfulness":4,"relatedness":5,"correctness":4,"coherence":5} Hope it helps {x}'), four);
  t.deepEqual(parseScores('{"scores": {"helpfulness":4,"relatedness":5,"correctness":4,"coherence":5}, "note": "a } in text"}'), four);
  t.deepEqual(parseScores('Helpfulness: 4\nRelatedness: 5\n**Correctness**: 4\ncoherence = 5'), four);
});

test('parseScores refuses missing, out-of-range and non-numeric scores', (t) => {
  t.is(parseScores('{"helpfulness": 4, "relatedness": 5, "correctness": 4}'), undefined);
  t.is(parseScores('{"helpfulness": 6, "relatedness": 5, "correctness": 4, "coherence": 5}'), undefined);
  t.is(parseScores('{"helpfulness": 0, "relatedness": 5, "correctness": 4, "coherence": 5}'), undefined);
  t.is(parseScores('{"helpfulness": "good", "relatedness": 5, "correctness": 4, "coherence": 5}'), undefined);
  t.is(parseScores('I think it is a fine explanation.'), undefined);
  t.is(parseScores(''), undefined);
});

test('the drop rule: any score of 3 or less drops the rationale', (t) => {
  t.true(keepRationale({ helpfulness: 4, relatedness: 4, correctness: 4, coherence: 4 }));
  t.true(keepRationale({ helpfulness: 5, relatedness: 3.5, correctness: 5, coherence: 5 }));
  t.false(keepRationale({ helpfulness: 5, relatedness: 5, correctness: 3, coherence: 5 }));
  t.false(keepRationale({ helpfulness: 1, relatedness: 5, correctness: 5, coherence: 5 }));
  t.false(keepRationale({ helpfulness: 5, relatedness: 5, correctness: 5, coherence: 2 }));
});

test('a filter run keeps, drops, retries unreadable answers, counts failures, and resumes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rdpo-filter-'));
  const input = join(dir, 'rationales.jsonl');
  const rationales = ['KEEP all fours', 'DROP a three', 'GARBAGE then ok', 'GARBAGE always', 'KEEP fives'];
  const rows = rationales.map((r, i) => ({
    id: `p${i}`,
    prompt: [{ role: 'user', content: `question ${i}` }],
    chosen: `good answer ${i}`,
    rejected: `bad answer ${i}`,
    meta: { i },
    rationale: r,
    rationale_style: 'general',
    rationale_model: 'gen',
  }));
  // The rationales run was killed mid-line: the torn tail is ignored, not judged.
  writeFileSync(input, rows.map((r) => JSON.stringify(r)).join('\n') + '\n{"id":"p5","prompt":');

  const seenFor = new Map<string, number>();
  const server = await startChatServer({
    models: ['judge'],
    answer: (req) => {
      const text: string = req.body.messages[0].content;
      const which = rationales.find((r) => text.includes(r))!;
      const n = (seenFor.get(which) ?? 0) + 1;
      seenFor.set(which, n);
      if (which.startsWith('KEEP all')) return '{"helpfulness": 4, "relatedness": 4, "correctness": 4, "coherence": 4}';
      if (which.startsWith('DROP')) return 'Scores: {"helpfulness": 5, "relatedness": 5, "correctness": 3, "coherence": 5}';
      if (which.startsWith('GARBAGE then'))
        return n === 1 ? 'I would rate it highly.' : '```json\n{"helpfulness":5,"relatedness":4,"correctness":4,"coherence":4}\n```';
      if (which.startsWith('GARBAGE always')) return 'no scores, sorry';
      return '{"helpfulness": 5, "relatedness": 5, "correctness": 5, "coherence": 5}';
    },
  });
  t.teardown(() => server.close());
  const judge = await OpenAIGenerator.connect({ baseURL: server.url });
  const out = join(dir, 'kept.jsonl');
  const dropped = defaultDroppedFile(out);
  t.is(dropped, join(dir, 'kept.dropped.jsonl'));
  const notes: string[] = [];
  const options = {
    inFile: input,
    outFile: out,
    droppedFile: dropped,
    judge,
    sampling: { maxNewTokens: 64, temperature: 0 },
    judgeAttempts: 2,
    concurrency: 3,
    retry: FAST,
    progress: false,
    log: (l: string) => notes.push(l),
  };
  const s = await filterRationales(options);
  t.is(s.total, 5);
  t.is(s.kept, 3);
  t.is(s.dropped, 1);
  t.is(s.failed.length, 1);
  t.is(s.unparseable, 1);
  t.is(s.failed[0]!.id, 'p3');
  t.regex(s.failed[0]!.error, /no readable scores after 2 tries/);
  t.true(notes.some((n) => n.includes('unfinished last line')));
  t.is(seenFor.get('GARBAGE then ok'), 2);
  t.is(seenFor.get('GARBAGE always'), 2);

  const kept = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(kept.map((r) => r.id).sort(), ['p0', 'p2', 'p4']);
  const p2 = kept.find((r) => r.id === 'p2');
  t.deepEqual(p2.rationale_scores, { helpfulness: 5, relatedness: 4, correctness: 4, coherence: 4 });
  t.is(p2.rationale_judge, 'judge');
  t.is(p2.rationale_model, 'gen', 'the input row is kept whole');
  const drop = readFileSync(dropped, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    drop.map((r) => r.id),
    ['p1'],
  );
  t.is(drop[0].rationale_scores.correctness, 3);

  // Rerun: only the failed row is judged again.
  const before = server.chatRequests().length;
  const again = await filterRationales(options);
  t.is(again.skipped, 4);
  t.is(again.failed.length, 1);
  t.is(server.chatRequests().length - before, 2);
});

test('filter refuses input rows without a rationale, naming the line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rdpo-filter-'));
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, JSON.stringify({ id: 'a', prompt: 'p', chosen: 'c', rejected: 'r', meta: {} }) + '\n');
  const server = await startChatServer();
  t.teardown(() => server.close());
  const judge = await OpenAIGenerator.connect({ baseURL: server.url });
  await t.throwsAsync(
    filterRationales({
      inFile: input,
      outFile: join(dir, 'o.jsonl'),
      droppedFile: join(dir, 'd.jsonl'),
      judge,
      sampling: { maxNewTokens: 8, temperature: 0 },
      judgeAttempts: 1,
      concurrency: 1,
      retry: FAST,
      progress: false,
      log: () => {},
    }),
    { message: /in\.jsonl:1: rationale: .*output of `rdpo-native rationales`/ },
  );
});
