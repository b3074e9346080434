// The one normalised shape every loader produces and everything downstream consumes.
import { z } from 'zod';

export const ChatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

/**
 * A preference pair. `prompt` is plain text or a conversation (ending with a user turn);
 * `chosen`/`rejected` are the assistant completions as text. `system` is kept apart so that
 * templates without a system role can still place it.
 */
export const PreferencePairSchema = z.object({
  id: z.string().min(1),
  prompt: z.union([z.string(), z.array(ChatMessageSchema).min(1)]),
  chosen: z.string(),
  rejected: z.string(),
  rationale: z.string().optional(),
  system: z.string().optional(),
  meta: z.record(z.string(), z.unknown()),
});
export type PreferencePair = z.infer<typeof PreferencePairSchema>;

/** Where a row came from, for error messages: `file:line` (JSONL) or `file:#index` (JSON, Parquet). */
export interface RowOrigin {
  file: string;
  line?: number;
  index?: number;
}

export function formatOrigin(o: RowOrigin): string {
  if (o.line !== undefined) return `${o.file}:${o.line}`;
  if (o.index !== undefined) return `${o.file}:#${o.index}`;
  return o.file;
}
