// The paper's released rationale sets (orcaratgen, orcaratspec, …): `prompt`, `chosen`,
// `rejected`, `rationale`, all plain strings; every row must carry its rationale.
import { optionalText, sourceId, text } from '../fields.js';
import type { FormatSpec } from './types.js';

export const rationaleSet: FormatSpec = {
  name: 'rationale-set',
  keys: 'prompt, chosen, rejected, rationale (strings)',
  convert(row) {
    const system = optionalText(row, 'system');
    const id = sourceId(row.id);
    return {
      kind: 'pair',
      prompt: text(row, 'prompt'),
      chosen: text(row, 'chosen'),
      rejected: text(row, 'rejected'),
      rationale: text(row, 'rationale'),
      ...(system && system.trim() !== '' ? { system } : {}),
      ...(id ? { sourceId: id } : {}),
      meta: {},
    };
  },
};
