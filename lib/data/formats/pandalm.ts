// PandaLM's human-labelled test set: `idx`, `instruction`, `input`, `response1`, `response2`,
// `annotator1..3` (1 or 2: that response is better, 0: tie). The chosen side is the annotators'
// majority; rows they tie on have no chosen side and are dropped (counted as ties).
//
// Its companion judge file (`idx`, `gpt_result`, `gpt_reason`) gives a real machine-written
// rationale. Joined by `idx` through `rationalesFrom`, the reason becomes the pair's rationale
// only when the judge picked the annotators' side. Its "Response 1"/"Response 2" are relabelled
// by position, as RDPO shows the chosen response above the rejected one: "the response above" is
// the chosen, "the response below" the rejected; the judge's own words stay in `meta.judgeReason`.
import { describeType, sourceId, text, type Row } from '../fields.js';
import { RowError } from '../errors.js';
import type { FormatSpec, JudgeVerdict } from './types.js';

const ANNOTATORS = ['annotator1', 'annotator2', 'annotator3'] as const;

function votes(row: Row): number[] {
  const present = ANNOTATORS.filter((k) => row[k] !== undefined && row[k] !== null);
  if (present.length === 0) throw new RowError('no annotator votes (`annotator1`..`annotator3`)');
  return present.map((k) => {
    const v = row[k];
    if (v !== 0 && v !== 1 && v !== 2) throw new RowError(`\`${k}\` must be 0 (tie), 1 or 2, got ${typeof v === 'number' ? v : describeType(v)}`);
    return v;
  });
}

/** Rewrites the judge's "Response N" into the position the pair shows it at. */
export function relabelReason(reason: string, chosenIndex: 1 | 2): string {
  return reason.replace(/\b[Rr]esponse\s*([12])\b/g, (_match, n: string, offset: number, whole: string) => {
    const where = Number(n) === chosenIndex ? 'above' : 'below';
    const sentenceStart = offset === 0 || /[.!?]\s+$/.test(whole.slice(0, offset));
    return `${sentenceStart ? 'The' : 'the'} response ${where}`;
  });
}

/** The judge file's rows, keyed by `idx`. */
export function judgeVerdicts(rows: Iterable<{ value?: unknown }>): Map<string, JudgeVerdict> {
  const map = new Map<string, JudgeVerdict>();
  for (const { value } of rows) {
    if (value === null || typeof value !== 'object') continue;
    const r = value as Row;
    const id = sourceId(r.idx);
    if (id === undefined || typeof r.gpt_reason !== 'string') continue;
    map.set(id, { result: String(r.gpt_result ?? ''), reason: r.gpt_reason });
  }
  return map;
}

export const pandalm: FormatSpec = {
  name: 'pandalm',
  keys: 'idx, instruction, input, response1, response2, annotator1..3',
  convert(row, ctx) {
    const instruction = text(row, 'instruction', { allowEmpty: true });
    const input = text(row, 'input', { allowEmpty: true });
    const prompt = [instruction, input].filter((s) => s.trim() !== '').join('\n\n');
    if (prompt === '') throw new RowError('`instruction` and `input` are both empty');
    const response1 = text(row, 'response1');
    const response2 = text(row, 'response2');
    const v = votes(row);
    const for1 = v.filter((x) => x === 1).length;
    const for2 = v.filter((x) => x === 2).length;
    if (for1 === for2) return { kind: 'tie' };
    const chosenIndex: 1 | 2 = for1 > for2 ? 1 : 2;
    const id = sourceId(row.idx);
    const verdict = id !== undefined ? ctx.rationales?.get(id) : undefined;
    const agrees = verdict !== undefined && verdict.result.trim() === String(chosenIndex) && verdict.reason.trim() !== '';
    return {
      kind: 'pair',
      prompt,
      chosen: chosenIndex === 1 ? response1 : response2,
      rejected: chosenIndex === 1 ? response2 : response1,
      ...(agrees ? { rationale: relabelReason(verdict.reason, chosenIndex) } : {}),
      ...(id !== undefined ? { sourceId: id } : {}),
      meta: {
        votes: v,
        chosenResponse: chosenIndex,
        ...(verdict ? { judgeResult: verdict.result, judgeReason: verdict.reason, judgeAgrees: agrees } : {}),
      },
    };
  },
};
