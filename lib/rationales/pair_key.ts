// Stable identities for crash-safe resumption: a row is done when its key is in the output file.
import { createHash } from 'node:crypto';
import type { PreferencePair } from '../data/schema.js';

/** Canonical (key-order independent) form of a prompt: text, or [[role, content], …]. */
function canonicalPrompt(prompt: PreferencePair['prompt']): unknown {
  return typeof prompt === 'string' ? prompt : prompt.map((m) => [m.role, m.content]);
}

function sha256(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** The key of one rationale job: sha256 over (prompt, chosen, rejected, style). */
export function pairKey(pair: Pick<PreferencePair, 'prompt' | 'chosen' | 'rejected'>, style: string): string {
  return sha256([canonicalPrompt(pair.prompt), pair.chosen, pair.rejected, style]);
}

/** The key of one judging job: the pair's key plus the rationale being judged. */
export function judgedKey(pair: Pick<PreferencePair, 'prompt' | 'chosen' | 'rejected'>, style: string, rationale: string): string {
  return sha256([pairKey(pair, style), rationale]);
}
