// Token ids of a generation prompt, by the one prompt-format rule (tokenize/prompt_format.ts) and the
// format the model was trained with when its directory records one.
import type { ChatMessage } from '../data/schema.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { encodePrompt, type PromptFormat } from '../tokenize/prompt_format.js';

export function encodeGenerationPrompt(tokenizer: Tokenizer, prompt: string | readonly ChatMessage[], format: PromptFormat): number[] {
  return encodePrompt(tokenizer, prompt, format);
}
