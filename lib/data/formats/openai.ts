// OpenAI preference fine-tuning: `input.messages`, `preferred_output[0].content`,
// `non_preferred_output[0].content`.
import { list, object } from '../fields.js';
import { readMessages, splitSystem, readMessage } from '../conversation.js';
import { RowError } from '../errors.js';
import type { FormatSpec } from './types.js';

function onlyAnswer(row: Record<string, unknown>, key: string): string {
  const outputs = list(row, key);
  if (outputs.length !== 1) throw new RowError(`\`${key}\` must hold exactly one assistant message, it holds ${outputs.length}`);
  const m = readMessage(outputs[0], `\`${key}[0]\``);
  if (m.role !== 'assistant') throw new RowError(`\`${key}[0]\` must be an assistant message, it is ${m.role}`);
  return m.content;
}

export const openai: FormatSpec = {
  name: 'openai',
  keys: 'input.messages, preferred_output, non_preferred_output',
  convert(row) {
    const input = object(row, 'input');
    const { system, messages } = splitSystem(readMessages(input.messages, '`input.messages`'), undefined, '`input.messages`');
    return {
      kind: 'pair',
      prompt: messages,
      chosen: onlyAnswer(row, 'preferred_output'),
      rejected: onlyAnswer(row, 'non_preferred_output'),
      ...(system !== undefined ? { system } : {}),
      meta: {},
    };
  },
};
