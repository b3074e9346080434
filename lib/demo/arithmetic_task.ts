// The built-in demo's task (docs/demo.md): addition questions whose answers an exact checker judges,
// with a spurious length cue in the preference pairs and rationales that carry what the pair does not.
//
//   question split      the 100 questions split once (QUESTION_SPLIT_SEED): train (the only ones in
//                       pairs), validation (the learning-rate pilot), test (every reported number).
//   SFT demonstrations  a careless annotator on all questions: correct with probability `sftCorrect`,
//                       else a slip; a filler sentence on a share `sftFiller`, independent of correctness.
//   preference pairs    train questions; chosen = correct, rejected = a slip; filler on `chosenFiller` of
//                       the chosen and `rejectedFiller` of the rejected, so "longer is better" fits most pairs.
//   cue-reversed pairs  test questions: correct without filler vs wrong with filler — the cue points the wrong way.
import type { PreferencePair } from '../data/schema.js';
import { extractAnswer, judgeArithmetic } from '../eval/exact_checkers.js';
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
  /** The careless annotator's slips: offsets from the true sum. */
  slips: readonly number[];
}

export const DEMO_TASK: ArithmeticTaskOptions = { maxOperand: 9, sftCorrect: 0.6, sftFiller: 0.5, chosenFiller: 0.8, rejectedFiller: 0.2, slips: [1] };

export const FILLERS = [
  ' I worked it out step by step.',
  ' I double-checked the addition.',
  ' That is the sum of the two numbers.',
  ' Adding them gives this total.',
];

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

/** The annotator's slip (task.slips), never negative. */
export function wrongAnswer(rng: SeededRandom, p: ArithmeticProblem, slips: readonly number[] = DEMO_TASK.slips): number {
  const v = p.answer + rng.pick(slips);
  return v < 0 ? p.answer + 1 : v;
}

/**
 * Counts on from the larger operand to the sum — numbers that appear nowhere in the question or the two
 * answers, so a model must know the successor relation to predict them — then names the verdict and
 * dismisses the length cue. Short: a byte-level model pays per character.
 */
export function rationaleText(p: ArithmeticProblem, wrong: number): string {
  const [hi, lo] = p.a >= p.b ? [p.a, p.b] : [p.b, p.a];
  const steps = Array.from({ length: lo }, (_, i) => hi + 1 + i);
  const count = steps.length === 0 ? `${hi} plus 0 stays ${hi}.` : `Count on from ${hi}: ${steps.join(', ')}.`;
  const verdict = wrong === p.answer + 1 ? 'is one too many' : 'is wrong';
  return `${count} So ${p.a} + ${p.b} = ${p.answer}: the above is right and the below, ${wrong}, ${verdict}. The extra sentence does not matter.`;
}

export const QUESTION_SPLIT_SEED = 2407;

export interface QuestionSplit {
  train: ArithmeticProblem[];
  validation: ArithmeticProblem[];
  test: ArithmeticProblem[];
}

/** Every question of the task, split once and the same in every replicate (docs/demo.md). */
export function splitQuestions(maxOperand = DEMO_TASK.maxOperand, sizes = { train: 40, validation: 10 }): QuestionSplit {
  const all: ArithmeticProblem[] = [];
  for (let a = 0; a <= maxOperand; a++) for (let b = 0; b <= maxOperand; b++) all.push({ a, b, answer: a + b });
  new SeededRandom(QUESTION_SPLIT_SEED).shuffle(all);
  return {
    train: all.slice(0, sizes.train),
    validation: all.slice(sizes.train, sizes.train + sizes.validation),
    test: all.slice(sizes.train + sizes.validation),
  };
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
    const value = rng.next() < task.sftCorrect ? p.answer : wrongAnswer(rng, p, task.slips);
    const filler = rng.next() < task.sftFiller ? rng.pick(FILLERS) : '';
    return {
      id: `sft-${seed}-${i}`,
      prompt: userTurn(p),
      chosen: answerText(p, value, filler),
      rejected: `(unused ${i})`,
      meta: { a: p.a, b: p.b, answer: p.answer },
    };
  });
}

/** Pairs on `questions` only (the train split), each question drawn uniformly. */
export function makePreferencePairs(
  count: number,
  seed: number,
  questions: readonly ArithmeticProblem[],
  task: ArithmeticTaskOptions = DEMO_TASK,
): PreferencePair[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const p = rng.pick(questions);
    const wrong = wrongAnswer(rng, p, task.slips);
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

/** `perQuestion` pairs per held-out question whose length cue points the wrong way: correct and plain vs wrong with filler. */
export function makeCueReversedPairs(questions: readonly ArithmeticProblem[], perQuestion: number, seed: number): PreferencePair[] {
  const rng = new SeededRandom(seed);
  return questions.flatMap((p, q) =>
    Array.from({ length: perQuestion }, (_, k) => {
      const wrong = wrongAnswer(rng, p);
      return {
        id: `reversed-${q}-${k}`,
        prompt: userTurn(p),
        chosen: answerText(p, p.answer),
        rejected: answerText(p, wrong, rng.pick(FILLERS)),
        meta: { question: q },
      };
    }),
  );
}

/** The exact checker (lib/eval/exact_checkers.ts, also `eval --judge exact:arithmetic`) on a problem. */
export function isCorrect(p: ArithmeticProblem, response: string): boolean {
  return extractAnswer(response) === p.answer;
}

export { extractAnswer, judgeArithmetic };

/** Questions drawn from the task's distribution with their own seed (for tests and examples). */
export function makeEvalProblems(count: number, maxOperand: number, seed: number): ArithmeticProblem[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: count }, () => makeProblem(rng, maxOperand));
}
