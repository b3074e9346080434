// The built-in demo task: addition questions whose answers can be checked exactly.
// Chosen answers are correct; rejected ones are wrong by a small amount. A spurious cue rides
// along: most chosen answers carry a filler sentence, so "longer is better" fits the training
// pairs almost as well as "correct is better" — the shortcut DPO can latch onto. The rationale
// states the property that matters (the sum) and points at both responses.
import type { PreferencePair } from '../data/schema.js';
import { SeededRandom } from '../util/random.js';

export interface ArithmeticProblem {
  a: number;
  b: number;
  answer: number;
}

export interface ArithmeticTaskOptions {
  pairs: number;
  maxOperand: number;
  /** Share of chosen answers that carry the filler sentence (the length cue). */
  fillerRate: number;
  seed: number;
}

export const DEMO_TASK: ArithmeticTaskOptions = { pairs: 1200, maxOperand: 19, fillerRate: 0.8, seed: 7 };

const FILLERS = [
  ' I worked it out step by step.',
  ' I double-checked the addition.',
  ' That is the sum of the two numbers.',
  ' Adding them gives this total.',
];

export function questionText(p: ArithmeticProblem): string {
  return `What is ${p.a} + ${p.b}?`;
}

export function answerText(p: ArithmeticProblem, value: number, filler = ''): string {
  return `${p.a} + ${p.b} = ${value}.${filler}`;
}

export function makeProblem(rng: SeededRandom, maxOperand: number): ArithmeticProblem {
  const a = rng.int(0, maxOperand);
  const b = rng.int(0, maxOperand);
  return { a, b, answer: a + b };
}

function wrongAnswer(rng: SeededRandom, p: ArithmeticProblem): number {
  const offsets = [-10, -2, -1, 1, 2, 10];
  let v = p.answer + rng.pick(offsets);
  if (v < 0) v = p.answer + 1;
  return v;
}

export function rationaleText(p: ArithmeticProblem, wrong: number): string {
  // Short on purpose: a byte-level model pays per character, and the sum is what matters.
  return `The above is correct: ${p.a} + ${p.b} = ${p.answer}. The below says ${wrong}, which is wrong.`;
}

export function makeArithmeticPairs(opts: ArithmeticTaskOptions = DEMO_TASK): PreferencePair[] {
  const rng = new SeededRandom(opts.seed);
  const pairs: PreferencePair[] = [];
  for (let i = 0; i < opts.pairs; i++) {
    const p = makeProblem(rng, opts.maxOperand);
    const wrong = wrongAnswer(rng, p);
    const filler = rng.next() < opts.fillerRate ? rng.pick(FILLERS) : '';
    pairs.push({
      id: `arith-${opts.seed}-${i}`,
      prompt: [{ role: 'user', content: questionText(p) }],
      chosen: answerText(p, p.answer, filler),
      rejected: answerText(p, wrong),
      rationale: rationaleText(p, wrong),
      meta: { a: p.a, b: p.b, answer: p.answer, wrong },
    });
  }
  return pairs;
}

/** Held-out questions drawn from the same distribution with another seed. */
export function makeEvalProblems(count: number, maxOperand: number, seed: number): ArithmeticProblem[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: count }, () => makeProblem(rng, maxOperand));
}

/** The first number after "=" in the response, if any. */
export function extractAnswer(response: string): number | undefined {
  const m = /=\s*(-?\d+)/.exec(response);
  return m ? Number(m[1]) : undefined;
}

export function isCorrect(p: ArithmeticProblem, response: string): boolean {
  return extractAnswer(response) === p.answer;
}

/** The exact checker as a pairwise judge: a correct answer beats a wrong one; otherwise a tie. */
export function judgeArithmetic(p: ArithmeticProblem, responseA: string, responseB: string): 'A' | 'B' | 'tie' {
  const a = isCorrect(p, responseA);
  const b = isCorrect(p, responseB);
  if (a === b) return 'tie';
  return a ? 'A' : 'B';
}
