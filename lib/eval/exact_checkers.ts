// Exact checkers by name, for `--judge exact:NAME`: tasks whose answers can be checked need no LLM judge.
import { UsageError } from '../errors.js';
import type { ExactChecker } from './judge.js';
import type { Conversation } from './judge_prompt.js';

function lastUserText(prompt: Conversation): string {
  if (typeof prompt === 'string') return prompt;
  for (let i = prompt.length - 1; i >= 0; i--) if (prompt[i]!.role === 'user') return prompt[i]!.content;
  return '';
}

/** The number after the first "=" in a response, else its first number, if any. */
export function extractAnswer(response: string): number | undefined {
  const m = /=\s*(-?\d+)/.exec(response) ?? /(-?\d+)/.exec(response);
  return m ? Number(m[1]) : undefined;
}

/** A correct sum beats a wrong one; otherwise a tie. */
export function judgeArithmetic(p: { answer: number }, responseA: string, responseB: string): 'A' | 'B' | 'tie' {
  const a = extractAnswer(responseA) === p.answer;
  const b = extractAnswer(responseB) === p.answer;
  if (a === b) return 'tie';
  return a ? 'A' : 'B';
}

/** The built-in demo's addition questions ("What is a + b?"): a correct sum beats a wrong one. */
export const arithmeticChecker: ExactChecker = (prompt, a, b) => {
  const m = /What is (\d+) \+ (\d+)\?/.exec(lastUserText(prompt));
  if (!m) throw new Error(`not an addition question of the demo task: ${JSON.stringify(lastUserText(prompt).slice(0, 80))}`);
  const x = Number(m[1]);
  const y = Number(m[2]);
  return judgeArithmetic({ answer: x + y }, a, b);
};

export const EXACT_CHECKERS: Record<string, ExactChecker> = { arithmetic: arithmeticChecker };

export function exactChecker(name: string): ExactChecker {
  const checker = EXACT_CHECKERS[name];
  if (!checker) throw new UsageError(`unknown exact checker "${name}"; available: ${Object.keys(EXACT_CHECKERS).join(', ')}`);
  return checker;
}
