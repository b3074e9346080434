// Intel/orca_dpo_pairs: `system`, `question`, `chosen`, `rejected`, all plain strings.
import { optionalText, text } from '../fields.js';
import type { FormatSpec } from './types.js';

export const orca: FormatSpec = {
  name: 'orca',
  keys: 'system?, question, chosen, rejected',
  convert(row) {
    const system = optionalText(row, 'system');
    return {
      kind: 'pair',
      prompt: text(row, 'question'),
      chosen: text(row, 'chosen'),
      rejected: text(row, 'rejected'),
      ...(system && system.trim() !== '' ? { system } : {}),
      meta: {},
    };
  },
};
