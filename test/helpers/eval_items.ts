// Items shared by the eval journal tests: A's response is longer on even items.
import type { PairwiseItem } from '../../lib/eval/pairwise.js';
import type { Verdict } from '../../lib/eval/judge.js';

export function journalItems(n = 30): PairwiseItem[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `item-${i}`,
    prompt: `Question ${i}?`,
    a: i % 2 === 0 ? `A long answer to question ${i}.` : `A${i}.`,
    b: `B answer ${i}.`,
  }));
}

export function lengthChecker(_prompt: unknown, a: string, b: string): Verdict {
  return a.length === b.length ? 'tie' : a.length > b.length ? 'A' : 'B';
}
