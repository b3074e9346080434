// Prompt sets for generation: MT-Bench / Vicuna-80 questions (first turn), instruction files,
// prompt or message lists, earlier generation files, or any preference data file (its prompts).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { UsageError } from '../cli/usage_error.js';
import { ChatMessageSchema, type ChatMessage, type PreferencePair } from '../data/schema.js';
import { loadPreferences } from '../data/load.js';
import { selectSubset } from '../data/subset.js';
import type { Conversation } from './judge_prompt.js';

export interface PromptItem {
  id: string;
  prompt: Conversation;
  /**
   * A preference pair's system text, kept apart from `prompt` as in training, so that generation
   * encodes the prompt exactly as the trainer did (tokenize/prompt_format.ts).
   */
  system?: string;
}

/** A pair's prompt as a prompt item: the prompt as trained, the system text beside it. */
export function pairPromptItem(pair: Pick<PreferencePair, 'id' | 'prompt' | 'system'>): PromptItem {
  return { id: pair.id, prompt: pair.prompt, ...(pair.system !== undefined && pair.system.trim() !== '' ? { system: pair.system } : {}) };
}

/** A preference pair's prompt as a conversation, its system message first. */
export function pairPrompt(pair: Pick<PreferencePair, 'prompt' | 'system'>): Conversation {
  const turns: ChatMessage[] = typeof pair.prompt === 'string' ? [{ role: 'user', content: pair.prompt }] : [...pair.prompt];
  if (pair.system !== undefined && pair.system.trim() !== '' && turns[0]?.role !== 'system') turns.unshift({ role: 'system', content: pair.system });
  return turns.length === 1 && turns[0]!.role === 'user' ? turns[0]!.content : turns;
}

function readRows(file: string): unknown[] | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read the prompt file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const text = buf.toString('utf8');
  if (/\.json$/i.test(file.replace(/\.gz$/i, ''))) {
    try {
      const parsed = JSON.parse(text) as unknown;
      return Array.isArray(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  if (!/\.jsonl$/i.test(file.replace(/\.gz$/i, ''))) return undefined;
  const rows: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line));
    } catch {
      throw new UsageError(`${file}:${i + 1} is not valid JSON`);
    }
  });
  return rows;
}

/** One row as a prompt, or undefined when the row has none of the prompt shapes. */
function promptOf(row: Record<string, unknown>, where: string): Conversation | undefined {
  if (Array.isArray(row.turns)) {
    const first = row.turns[0];
    if (typeof first !== 'string' || first.trim() === '') throw new UsageError(`${where}: \`turns[0]\` must be a non-empty string`);
    return first;
  }
  if (typeof row.instruction === 'string') {
    const input = typeof row.input === 'string' && row.input.trim() !== '' ? `\n\n${row.input}` : '';
    return row.instruction + input;
  }
  const prompt = row.prompt ?? row.messages;
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt)) {
    const parsed = ChatMessageSchema.array().min(1).safeParse(prompt);
    if (!parsed.success) throw new UsageError(`${where}: \`${row.prompt !== undefined ? 'prompt' : 'messages'}\` must be a list of {role, content} messages`);
    const turns = parsed.data[parsed.data.length - 1]!.role === 'assistant' ? parsed.data.slice(0, -1) : parsed.data;
    if (turns.length === 0 || turns[turns.length - 1]!.role !== 'user') throw new UsageError(`${where}: the conversation must end with a user turn`);
    return turns;
  }
  return undefined;
}

export interface PromptSetOptions {
  /** Keep this many prompts: a seeded subset when `seed` is given, else the first ones. */
  limit?: number;
  seed?: number;
}

/**
 * Reads a prompt set. Rows may carry `turns` (MT-Bench, Vicuna: the first turn is used),
 * `instruction` (+ `input`), `prompt` (text or messages) or `messages`; ids come from `id` or
 * `question_id` or `idx` (PandaLM), else the row number. A file without such rows is read as preference data.
 */
export async function loadPromptSet(file: string, options: PromptSetOptions = {}): Promise<PromptItem[]> {
  const rows = readRows(file);
  let items: PromptItem[] | undefined;
  if (rows !== undefined && rows.length > 0 && rows.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))) {
    const objects = rows as Record<string, unknown>[];
    const first = objects[0]!;
    const looksLikePairs = 'chosen' in first && 'rejected' in first;
    if (!looksLikePairs && promptOf(first, `${file}:1`) !== undefined) {
      const seen = new Set<string>();
      items = objects.map((row, i) => {
        const where = `${file}:${i + 1}`;
        const prompt = promptOf(row, where);
        if (prompt === undefined) throw new UsageError(`${where}: no prompt (expected \`turns\`, \`instruction\`, \`prompt\` or \`messages\`)`);
        const rawId = row.id ?? row.question_id ?? row.idx;
        const id = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : `row-${i + 1}`;
        if (seen.has(id)) throw new UsageError(`${where}: the id ${JSON.stringify(id)} appears twice; prompt ids must be unique`);
        seen.add(id);
        return { id, prompt };
      });
    }
  }
  if (items === undefined) {
    const { pairs } = await loadPreferences(file);
    const seen = new Set<string>();
    items = [];
    for (const pair of pairs) {
      const key = JSON.stringify(pairPrompt(pair));
      if (seen.has(key)) continue;
      seen.add(key);
      items.push(pairPromptItem(pair));
    }
  }
  if (options.limit === undefined) return items;
  return options.seed === undefined ? items.slice(0, options.limit) : selectSubset(items, { limit: options.limit, seed: options.seed });
}
