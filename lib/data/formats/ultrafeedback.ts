// HuggingFaceH4/ultrafeedback_binarized: `prompt`, `prompt_id`, `chosen`/`rejected` as message
// lists ending with the assistant answer, `score_chosen`, `score_rejected`. Rows whose scores tie
// are kept (the source still names a chosen side) and flagged `meta.tie`.
import { describeType, sourceId } from '../fields.js';
import { RowError } from '../errors.js';
import { convertGeneric } from './generic.js';
import type { FormatSpec } from './types.js';

function score(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RowError(`\`${key}\` must be a number, got ${describeType(v)}`);
  return v;
}

export const ultrafeedback: FormatSpec = {
  name: 'ultrafeedback',
  keys: 'prompt, prompt_id, chosen[], rejected[], score_chosen, score_rejected',
  convert(row) {
    if (!Array.isArray(row.chosen) || !Array.isArray(row.rejected)) {
      throw new RowError('`chosen` and `rejected` must be message lists ending with the assistant answer');
    }
    const pair = convertGeneric(row);
    const scoreChosen = score(row.score_chosen, 'score_chosen');
    const scoreRejected = score(row.score_rejected, 'score_rejected');
    const id = sourceId(row.prompt_id);
    const tie = scoreChosen !== undefined && scoreChosen === scoreRejected;
    return {
      ...pair,
      ...(id ? { sourceId: id } : {}),
      ...(tie ? { tie } : {}),
      meta: {
        ...(scoreChosen !== undefined ? { scoreChosen } : {}),
        ...(scoreRejected !== undefined ? { scoreRejected } : {}),
        ...(tie ? { tie } : {}),
      },
    };
  },
};
