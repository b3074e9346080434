// The plain preference format: `prompt`, `chosen`, `rejected`, optional `rationale`, `system`, `id`.
// Strings, or TRL's conversational form: `prompt` a message list, `chosen`/`rejected` message
// lists ending with the assistant answer. When `chosen`/`rejected` are whole conversations the
// prompt is the part they share (and `prompt`, if given, must agree with it).
import type { ChatMessage } from '../schema.js';
import { describeType, optionalText, sourceId, type Row } from '../fields.js';
import { readMessages, sameMessages, splitAnswer, splitSystem } from '../conversation.js';
import { RowError } from '../errors.js';
import type { ConvertedPair, FormatSpec } from './types.js';

interface Completion {
  answer: string;
  /** Messages before the answer when the completion is a message list; null for plain text. */
  before: ChatMessage[] | null;
}

function completion(row: Row, key: string): Completion {
  const v = row[key];
  if (v === undefined) throw new RowError(`\`${key}\` is missing`);
  if (typeof v === 'string') return { answer: v, before: null };
  if (Array.isArray(v)) return splitAnswer(readMessages(v, `\`${key}\``), `\`${key}\``);
  throw new RowError(`\`${key}\` must be a string or a list of messages, got ${describeType(v)}`);
}

function withoutSystem(messages: ChatMessage[]): ChatMessage[] {
  return messages[0]?.role === 'system' ? messages.slice(1) : messages;
}

/** The shared conversion; UltraFeedback adds its scores on top. */
export function convertGeneric(row: Row): ConvertedPair {
  const chosen = completion(row, 'chosen');
  const rejected = completion(row, 'rejected');
  const contexts = [chosen, rejected].filter((c) => c.before !== null && c.before.length > 0);
  if (contexts.length === 2 && !sameMessages(chosen.before!, rejected.before!)) {
    throw new RowError('`chosen` and `rejected` differ before their last message; they must share the prompt');
  }
  const context = contexts[0]?.before ?? null;

  let prompt: string | ChatMessage[];
  const rawPrompt = row.prompt;
  if (rawPrompt === undefined || rawPrompt === null) {
    if (!context) throw new RowError('`prompt` is missing (it may be left out only when `chosen` and `rejected` are whole conversations)');
    prompt = context;
  } else if (typeof rawPrompt === 'string') {
    if (rawPrompt.trim() === '') throw new RowError('`prompt` is empty');
    prompt = rawPrompt;
    if (context) {
      const asked = withoutSystem(context);
      const last = asked[asked.length - 1];
      if (last?.role !== 'user' || last.content.trim() !== rawPrompt.trim()) {
        throw new RowError('`prompt` is not the last user turn of the conversation in `chosen`/`rejected`');
      }
      prompt = context;
    }
  } else {
    prompt = readMessages(rawPrompt, '`prompt`');
    if (context && !sameMessages(withoutSystem(context), withoutSystem(prompt))) {
      throw new RowError('`prompt` differs from the conversation before the answer in `chosen`/`rejected`');
    }
  }

  let system = optionalText(row, 'system');
  if (typeof prompt !== 'string') {
    const split = splitSystem(prompt, system, '`prompt`');
    prompt = split.messages;
    system = split.system;
  }
  const rationale = optionalText(row, 'rationale');
  const id = sourceId(row.id);
  return {
    kind: 'pair',
    prompt,
    chosen: chosen.answer,
    rejected: rejected.answer,
    ...(rationale !== undefined && rationale.trim() !== '' ? { rationale } : {}),
    ...(system !== undefined && system.trim() !== '' ? { system } : {}),
    ...(id ? { sourceId: id } : {}),
    meta: {},
  };
}

export const generic: FormatSpec = {
  name: 'generic',
  keys: 'prompt, chosen, rejected, rationale?, system? (strings, or message lists)',
  convert: convertGeneric,
};
