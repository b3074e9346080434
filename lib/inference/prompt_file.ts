// Prompts for `generate`: JSONL (or a JSON array) whose rows carry `prompt` (text), `messages`
// (a conversation ending with a user turn) or `turns` (MT-Bench / Vicuna question files: the first
// turn is the prompt). Other fields (question_id, category, id) are carried to the output.
import type { ChatMessage } from '../data/schema.js';
import { formatOrigin } from '../data/schema.js';
import { openRows } from '../data/read_rows.js';
import { readMessages } from '../data/conversation.js';
import { PreferenceDataError, RowError } from '../data/errors.js';

export interface PromptRow {
  /** Text, or a conversation ending with a user turn. */
  prompt: string | ChatMessage[];
  /** Identifying fields copied to the output (question_id, id, category). */
  keys: Record<string, unknown>;
  origin: string;
}

const KEY_FIELDS = ['question_id', 'id', 'category'];

function toPrompt(v: Record<string, unknown>, label: string): string | ChatMessage[] {
  if (typeof v.prompt === 'string') return v.prompt;
  if (v.messages !== undefined) {
    const msgs = readMessages(v.messages, `${label} messages`);
    if (msgs.at(-1)!.role !== 'user') throw new RowError(`${label} messages must end with a user turn, got ${msgs.at(-1)!.role}`);
    return msgs;
  }
  if (Array.isArray(v.turns)) {
    const first = v.turns[0];
    if (typeof first !== 'string') throw new RowError(`${label} turns[0] must be a string`);
    return first;
  }
  if (Array.isArray(v.prompt)) return toPrompt({ messages: v.prompt }, label);
  throw new RowError(`${label} has none of \`prompt\` (text), \`messages\` or \`turns\``);
}

export async function readPromptFile(file: string): Promise<PromptRow[]> {
  const source = await openRows(file);
  const out: PromptRow[] = [];
  for await (const row of source.rows) {
    const where = formatOrigin(row.origin);
    if (row.parseError !== undefined) throw new PreferenceDataError(`${where}: not valid JSON (${row.parseError})`, { file });
    const v = row.value;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new PreferenceDataError(`${where}: each prompt row must be a JSON object`, { file });
    try {
      const rec = v as Record<string, unknown>;
      out.push({
        prompt: toPrompt(rec, where),
        keys: Object.fromEntries(KEY_FIELDS.filter((k) => rec[k] !== undefined).map((k) => [k, rec[k]])),
        origin: where,
      });
    } catch (err) {
      if (err instanceof RowError) throw new PreferenceDataError(err.message, { file });
      throw err;
    }
  }
  if (out.length === 0) throw new PreferenceDataError(`${file}: no prompts`, { file });
  return out;
}
