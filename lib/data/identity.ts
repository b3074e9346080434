// Pair identity: a content key for de-duplication and a stable id when the source has none.
import { createHash } from 'node:crypto';
import type { ChatMessage } from './schema.js';

/** Same prompt (with system), chosen and rejected ⇒ same key, whatever the rationale or metadata. */
export function contentKey(p: { prompt: string | ChatMessage[]; chosen: string; rejected: string; system?: string }): string {
  const prompt = typeof p.prompt === 'string' ? p.prompt : p.prompt.map((m) => [m.role, m.content]);
  return createHash('sha256')
    .update(JSON.stringify([p.system ?? null, prompt, p.chosen, p.rejected]))
    .digest('hex');
}

/** The id of a pair without a source id: the first 16 hex digits of its content key. */
export function contentId(key: string): string {
  return key.slice(0, 16);
}
