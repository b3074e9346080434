// The built-in demo's task (docs/demo.md): addition questions whose answers an exact checker judges,
// with a spurious length cue in the preference pairs and rationales that name the true criterion.
//
//   SFT demonstrations  a careless annotator: correct with probability `sftCorrect`, else a slip;
//                       a filler sentence on a share `sftFiller` of them, independent of correctness.
//   preference pairs    chosen = correct, rejected = a slip; filler on `chosenFiller` of the chosen and
//                       `rejectedFiller` of the rejected answers, so "longer is better" fits most pairs.
//   cue-reversed pairs  held out: correct without filler vs wrong with filler — the cue points the wrong way.
import type { PreferencePair } from '../data/schema.js';
import { SeededRandom } from '../util/random.js';

export interface ArithmeticProblem {
  a: number;
  b: number;
  answer: number;
}

export interface ArithmeticTaskOptions {
  maxOperand: number;
  /** Share of SFT demonstrations whose answer is correct. */
  sftCorrect: number;
  /** Share of SFT demonstrations with a filler sentence. */
  sftFiller: number;
  /** Share of chosen (correct) answers in the pairs with a filler sentence — the spurious cue. */
  chosenFiller: number;
  /** Share of rejected (wrong) answers with a filler sentence. */
  rejectedFiller: number;
}

export const DEMO_TASK: ArithmeticTaskOptions = { maxOperand: 9, sftCorrect: 0.6, sftFiller: 0.5, chosenFiller: 0.8, rejectedFiller: 0.2 };

export const FILLERS = [
  ' I worked it out step by step.',
  ' I double-checked the addition.',
  ' That is the sum of the two numbers.',
  ' Adding them gives this total.',
];

const SLIPS = [-10, -2, -1, 1, 2, 10];

export function questionText(p: ArithmeticProblem): string {
  return `What is ${p.a} + ${p.b}?`;
}

/** The answer alone (a tiny model learns a direct answer far faster than restating the operands). */
export function answerText(_p: ArithmeticProblem, value: number, filler = ''): string {
  return `${value}.${filler}`;
}

export function makeProblem(rng: SeededRandom, maxOperand: number): ArithmeticProblem {
  const a = rng.int(0, maxOperand);
  const b = rng.int(0, maxOperand);
  return { a, b, answer: a + b };
}

/** A plausible slip: off by one, two or ten, never negative. */
export function wrongAnswer(rng: SeededRandom, p: ArithmeticProblem): number {
  const v = p.answer + rng.pick(SLIPS);
  return v < 0 ? p.answer + 1 : v;
}

/** Names the property that matters (the sum) and dismisses the length cue. Short: a byte-level model pays per character. */
export function rationaleText(p: ArithmeticProblem, wrong: number): string {
  return `The above is correct: ${p.a} + ${p.b} = ${p.answer}. The below says ${wrong}, which is wrong. The extra sentence does not matter.`;
}

const userTurn = (p: ArithmeticProblem) => [{ role: 'user' as const, content: questionText(p) }];

/**
 * SFT rows (chosen = the demonstration). The SFT loss never reads `rejected`; it is unique per row so
 * that the loader's de-duplication keeps repeated demonstrations, whose frequency is the distribution.
 */
export function makeSftDemonstrations(count: number, seed: number, task: ArithmeticTaskOptions = DEMO_TASK): PreferencePair[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const p = makeProblem(rng, task.maxOperand);
    const value = rng.next() < task.sftCorrect ? p.answer : wrongAnswer(rng, p);
    const filler = rng.next() < task.sftFiller ? rng.pick(FILLERS) : '';
    return { id: `sft-${seed}-${i}`, prompt: userTurn(p), chosen: answerText(p, value, filler), rejected: `(unused ${i})`, meta: { a: p.a, b: p.b, answer: p.answer } };
  });
}

export function makePreferencePairs(count: number, seed: number, task: ArithmeticTaskOptions = DEMO_TASK): PreferencePair[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const p = makeProblem(rng, task.maxOperand);
    const wrong = wrongAnswer(rng, p);
    const chosenFiller = rng.next() < task.chosenFiller ? rng.pick(FILLERS) : '';
    const rejectedFiller = rng.next() < task.rejectedFiller ? rng.pick(FILLERS) : '';
    return {
      id: `pair-${seed}-${i}`,
      prompt: userTurn(p),
      chosen: answerText(p, p.answer, chosenFiller),
      rejected: answerText(p, wrong, rejectedFiller),
      rationale: rationaleText(p, wrong),
      meta: { a: p.a, b: p.b, answer: p.answer, wrong },
    };
  });
}

/** Held-out pairs whose length cue points the wrong way: correct and plain vs wrong with filler. */
export function makeCueReversedPairs(count: number, seed: number, task: ArithmeticTaskOptions = DEMO_TASK): PreferencePair[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const p = makeProblem(rng, task.maxOperand);
    const wrong = wrongAnswer(rng, p);
    return { id: `reversed-${seed}-${i}`, prompt: userTurn(p), chosen: answerText(p, p.answer), rejected: answerText(p, wrong, rng.pick(FILLERS)), meta: {} };
  });
}

/** Held-out questions drawn from the same distribution with their own seed. */
export function makeEvalProblems(count: number, maxOperand: number, seed: number): ArithmeticProblem[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: count }, () => makeProblem(rng, maxOperand));
}

/** The number after the first "=" in the response, else its first number, if any. */
export function extractAnswer(response: string): number | undefined {
  const m = /=\s*(-?\d+)/.exec(response) ?? /(-?\d+)/.exec(response);
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
