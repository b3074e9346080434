// The rationale quality judge: four 1–5 scores as strict JSON, parsed leniently, and the paper's
// rule that a rationale is dropped when any score is 3 or less.
import type { PreferencePair } from '../data/schema.js';
import { promptAsText } from './prompts.js';

export const SCORE_NAMES = ['helpfulness', 'relatedness', 'correctness', 'coherence'] as const;
export type ScoreName = (typeof SCORE_NAMES)[number];
export type RationaleScores = Record<ScoreName, number>;

/** Drop when any score is at or below this (paper: "≤ 3"). */
export const DROP_AT_OR_BELOW = 3;

export function keepRationale(scores: RationaleScores): boolean {
  return SCORE_NAMES.every((name) => scores[name] > DROP_AT_OR_BELOW);
}

export function judgeRequest(pair: PreferencePair, rationale: string): string {
  return `You are grading an explanation of a human preference between two responses.

[Prompt]
${promptAsText(pair)}

[Preferred response]
${pair.chosen}

[Other response]
${pair.rejected}

[Explanation of why the preferred response is better]
${rationale}

Score the explanation from 1 (very poor) to 5 (excellent) on each criterion:
- helpfulness: does it help a reader understand why the preferred response is better?
- relatedness: is it about this prompt and these two responses?
- correctness: are its claims true of the responses, and does it argue for the preferred one?
- coherence: is it clear, fluent and logically consistent?

Reply with only this JSON object and nothing else:
{"helpfulness": <1-5>, "relatedness": <1-5>, "correctness": <1-5>, "coherence": <1-5>}`;
}

/**
 * Reads the four scores out of a judge's answer: the first JSON object that has them (inside code
 * fences, prose, or nested one level), else `name: N` pairs in the text. Each must be a number in
 * [1, 5]. Returns undefined when the answer cannot be read.
 */
export function parseScores(answer: string): RationaleScores | undefined {
  for (const candidate of jsonObjects(answer)) {
    const scores = scoresFrom(candidate);
    if (scores) return scores;
  }
  const found: Partial<RationaleScores> = {};
  for (const name of SCORE_NAMES) {
    const m = new RegExp(`${name}["'*\\s]*[:=]\\s*["']?(\\d+(?:\\.\\d+)?)`, 'i').exec(answer);
    const value = m ? Number(m[1]) : NaN;
    if (!validScore(value)) return undefined;
    found[name] = value;
  }
  return found as RationaleScores;
}

function validScore(v: number): boolean {
  return Number.isFinite(v) && v >= 1 && v <= 5;
}

function scoresFrom(value: unknown, depth = 0): RationaleScores | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const lower = new Map(Object.entries(value).map(([k, v]) => [k.trim().toLowerCase(), v]));
  const out: Partial<RationaleScores> = {};
  let complete = true;
  for (const name of SCORE_NAMES) {
    const raw = lower.get(name);
    const v = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number.parseFloat(raw) : NaN;
    if (!validScore(v)) {
      complete = false;
      break;
    }
    out[name] = v;
  }
  if (complete) return out as RationaleScores;
  if (depth === 0) {
    for (const inner of lower.values()) {
      const s = scoresFrom(inner, 1);
      if (s) return s;
    }
  }
  return undefined;
}

/** Every balanced {...} span that parses as JSON, outermost first, in order of appearance. */
function* jsonObjects(text: string): Generator<unknown> {
  for (let start = text.indexOf('{'); start !== -1; start = text.indexOf('{', start + 1)) {
    let depth = 0;
    let inString = false;
    for (let i = start; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        try {
          yield JSON.parse(text.slice(start, i + 1));
        } catch {}
        break;
      }
    }
  }
}
