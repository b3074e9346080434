// Conversations: reading message lists in their common spellings, pulling the system turn out,
// splitting a full conversation into prompt and answer, and the prompt's shape rules.
import type { ChatMessage } from './schema.js';
import { RowError } from './errors.js';
import { describeType, isRow } from './fields.js';

type Role = ChatMessage['role'];

const ROLE_NAMES: Record<string, Role> = {
  system: 'system',
  user: 'user',
  human: 'user',
  assistant: 'assistant',
  gpt: 'assistant',
  bot: 'assistant',
  model: 'assistant',
};
/** Tool turns have no place in the schema; rows holding them are rejected by name. */
const TOOL_ROLES = new Set(['tool', 'function', 'observation', 'function_call', 'ipython']);

/**
 * Text of a message's content: a string, or OpenAI's list of `{type: 'text', text}` parts.
 */
export function contentText(v: unknown, label: string): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((p) => isRow(p) && p.type === 'text' && typeof p.text === 'string')) {
    return v.map((p) => (p as { text: string }).text).join('');
  }
  throw new RowError(`${label} content must be a string, got ${describeType(v)}`);
}

/**
 * One message in `{role, content}` (OpenAI, TRL) or `{from, value}` (ShareGPT) spelling.
 */
export function readMessage(v: unknown, label: string): ChatMessage {
  if (!isRow(v)) throw new RowError(`${label} must be a message object, got ${describeType(v)}`);
  const rawRole = v.role ?? v.from;
  if (typeof rawRole !== 'string') throw new RowError(`${label} has no \`role\` (or \`from\`)`);
  if (TOOL_ROLES.has(rawRole)) {
    throw new RowError(`${label} is a tool turn (\`${rawRole}\`); tool calls and results are not supported in preference pairs`);
  }
  const role = ROLE_NAMES[rawRole];
  if (!role) throw new RowError(`${label} has the unknown role \`${rawRole}\` (expected system, user/human or assistant/gpt)`);
  const content = contentText('content' in v ? v.content : v.value, label);
  return { role, content };
}

export function readMessages(v: unknown, label: string): ChatMessage[] {
  if (!Array.isArray(v)) throw new RowError(`${label} must be a list of messages, got ${describeType(v)}`);
  if (v.length === 0) throw new RowError(`${label} is an empty list`);
  return v.map((m, i) => readMessage(m, `${label}[${i}]`));
}

/**
 * Moves a leading system message out of the conversation. A system turn later on, or a system
 * message as well as a separate system field that differ, is an error.
 */
export function splitSystem(messages: ChatMessage[], system: string | undefined, label: string): { system?: string; messages: ChatMessage[] } {
  let rest = messages;
  if (rest[0]?.role === 'system') {
    const own = rest[0].content;
    if (system !== undefined && system !== own) {
      throw new RowError(`${label} starts with a system message and the row also has a different \`system\`; keep one`);
    }
    system = own;
    rest = rest.slice(1);
  }
  const late = rest.findIndex((m) => m.role === 'system');
  if (late >= 0) throw new RowError(`${label} has a system message after the first turn (turn ${late + 1}); only a leading system message is supported`);
  return system === undefined || system.trim() === '' ? { messages: rest } : { system, messages: rest };
}

/**
 * The rules a prompt conversation must follow for chat templates to render it: it starts with
 * a user turn, user and assistant alternate, no turn is empty, and it ends with the user.
 */
export function checkPromptTurns(messages: ChatMessage[], label = 'the prompt'): void {
  if (messages.length === 0) throw new RowError(`${label} has no user turn`);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const expected: Role = i % 2 === 0 ? 'user' : 'assistant';
    if (m.role !== expected) {
      const prev = messages[i - 1];
      throw new RowError(
        prev && prev.role === m.role
          ? `${label} has two ${m.role} turns in a row (turns ${i} and ${i + 1}); user and assistant must alternate`
          : `${label} must start with a user turn, found ${m.role}`,
      );
    }
    if (m.content.trim() === '') throw new RowError(`${label} turn ${i + 1} (${m.role}) is empty`);
  }
  if (messages[messages.length - 1]!.role !== 'user') {
    throw new RowError(`${label} must end with a user turn, it ends with an assistant turn`);
  }
}

/** A completion given as a message list: the final assistant message and what precedes it. */
export function splitAnswer(messages: ChatMessage[], label: string): { before: ChatMessage[]; answer: string } {
  const last = messages[messages.length - 1]!;
  if (last.role !== 'assistant') throw new RowError(`${label} must end with an assistant message, it ends with ${last.role}`);
  return { before: messages.slice(0, -1), answer: last.content };
}

export function sameMessages(a: readonly ChatMessage[], b: readonly ChatMessage[]): boolean {
  return a.length === b.length && a.every((m, i) => m.role === b[i]!.role && m.content === b[i]!.content);
}

/** The plain text of a prompt for length counting: system, then each turn's content. */
export function promptText(prompt: string | ChatMessage[], system?: string): string {
  const parts = typeof prompt === 'string' ? [prompt] : prompt.map((m) => m.content);
  return (system ? [system, ...parts] : parts).join('\n');
}
