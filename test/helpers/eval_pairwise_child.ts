// Child process for test/eval_journal.test.ts: judges ITEMS items slowly with an exact checker,
// one at a time, so the parent can SIGKILL it part-way through.
import { runPairwise } from '../../lib/eval/pairwise.js';
import { exactJudge } from '../../lib/eval/judge.js';
import { journalItems, lengthChecker } from './eval_items.js';

const outDir = process.argv[2]!;
const delayMs = Number(process.argv[3] ?? 40);
const judge = exactJudge('longer', async (p, a, b) => {
  await new Promise((r) => setTimeout(r, delayMs));
  return lengthChecker(p, a, b);
});
await runPairwise({ items: journalItems(), judge, outDir, modelA: 'a', modelB: 'b', concurrency: 1, progress: false, log: () => {} });
