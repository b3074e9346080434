// Token ids of a generation prompt: through the chat template (with the generation prompt) when the
// model has one; otherwise a text prompt is encoded as is and a conversation uses the plain layout.
import type { ChatMessage } from '../data/schema.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { applyChatTemplate } from '../tokenize/chat_template.js';

export function encodeGenerationPrompt(tokenizer: Tokenizer, prompt: string | readonly ChatMessage[]): number[] {
  if (typeof prompt === 'string' && tokenizer.chatTemplate === null) return tokenizer.encode(prompt);
  const turns = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt.map((m) => ({ role: m.role, content: m.content }));
  return applyChatTemplate(tokenizer, turns, { addGenerationPrompt: true });
}
