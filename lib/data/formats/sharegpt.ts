// LLaMA-Factory's ShareGPT preference pairs: `conversations[{from, value}]` ending with the
// human turn, `chosen{from, value}`, `rejected{from, value}`, optionally a top-level `system`.
import { list, object, optionalText } from '../fields.js';
import { readMessage, splitSystem } from '../conversation.js';
import { RowError } from '../errors.js';
import type { FormatSpec } from './types.js';

function answer(row: Record<string, unknown>, key: string): string {
  const m = readMessage(object(row, key), `\`${key}\``);
  if (m.role !== 'assistant') throw new RowError(`\`${key}\` must be a gpt/assistant turn, it is ${m.role}`);
  return m.content;
}

export const sharegpt: FormatSpec = {
  name: 'sharegpt',
  keys: 'conversations[{from, value}], chosen{from, value}, rejected{from, value}, system?',
  convert(row) {
    const turns = list(row, 'conversations').map((m, i) => readMessage(m, `\`conversations[${i}]\``));
    const { system, messages } = splitSystem(turns, optionalText(row, 'system'), '`conversations`');
    return {
      kind: 'pair',
      prompt: messages,
      chosen: answer(row, 'chosen'),
      rejected: answer(row, 'rejected'),
      ...(system !== undefined ? { system } : {}),
      meta: {},
    };
  },
};
