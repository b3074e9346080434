// How a prompt becomes tokens: one rule for training, scoring, generation and evaluation, so that a
// model is prompted at test time exactly as it was trained.
//
//   chat   every prompt goes through the chat template: a text prompt is one user turn (a system text,
//          if any, a system turn). The authors' RDPO code wraps every prompt this way (dataloader.py).
//   plain  TRL's convention: a text prompt is encoded as text (`system\n\nprompt` with a system text);
//          a list of messages still goes through the template.
//   auto   chat when the tokenizer has a chat template, plain otherwise. The default everywhere.
//
// A run records the format it resolved (config.json and trainer_state.json in every checkpoint and in
// final/); resume refuses another, and eval/generate/logprobs take the recorded one by default.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ChatMessage } from '../data/schema.js';
import { UsageError } from '../errors.js';
import { applyChatTemplate, type ChatTurn } from './chat_template.js';
import type { Tokenizer } from './tokenizer.js';

export const PROMPT_FORMATS = ['auto', 'chat', 'plain'] as const;
export type PromptFormatSetting = (typeof PROMPT_FORMATS)[number];
export type PromptFormat = Exclude<PromptFormatSetting, 'auto'>;

export type Prompt = string | readonly ChatMessage[];

export function resolvePromptFormat(tokenizer: Tokenizer, setting: PromptFormatSetting = 'auto'): PromptFormat {
  if (setting === 'chat' || setting === 'plain') return setting;
  return tokenizer.chatTemplate !== null ? 'chat' : 'plain';
}

/** The prompt (with a separate system text) as chat turns. */
export function promptTurns(prompt: Prompt, system?: string): ChatTurn[] {
  const turns: ChatTurn[] = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt.map((m) => ({ role: m.role, content: m.content }));
  if (system !== undefined && turns[0]?.role !== 'system') turns.unshift({ role: 'system', content: system });
  return turns;
}

/** True when this prompt is rendered by the chat template under `format`. */
export function usesTemplate(prompt: Prompt, format: PromptFormat): boolean {
  return format === 'chat' || typeof prompt !== 'string';
}

/** The plain-text prompt of the `plain` convention. */
export function plainPromptText(prompt: string, system?: string): string {
  return system !== undefined ? `${system}\n\n${prompt}` : prompt;
}

/**
 * Token ids that prompt the model for an answer — what generation feeds it and what training scores
 * the completion after (up to the longest common prefix with prompt + completion; see preference_tokens.ts).
 */
export function encodePrompt(tokenizer: Tokenizer, prompt: Prompt, format: PromptFormat, system?: string): number[] {
  if (usesTemplate(prompt, format)) return applyChatTemplate(tokenizer, promptTurns(prompt, system), { addGenerationPrompt: true });
  return tokenizer.encode(plainPromptText(prompt as string, system));
}

/** The prompt format a model directory was trained with (its trainer_state.json), if recorded. */
export function recordedPromptFormat(modelDir: string): PromptFormat | undefined {
  const file = path.join(modelDir, 'trainer_state.json');
  if (!existsSync(file)) return undefined;
  try {
    const f = (JSON.parse(readFileSync(file, 'utf8')) as { promptFormat?: unknown }).promptFormat;
    return f === 'chat' || f === 'plain' ? f : undefined;
  } catch {
    return undefined;
  }
}

/** A usage error: the CLI prints it and exits 2. */
export class PromptFormatMismatch extends UsageError {
  override name = 'PromptFormatMismatch';
}

/**
 * The format to prompt a model with: the recorded one unless the caller names one, and an error when
 * the caller names another than the model was trained with (its answers would be judged off-format).
 */
export function promptFormatFor(modelDir: string, tokenizer: Tokenizer, setting: PromptFormatSetting = 'auto'): PromptFormat {
  const recorded = recordedPromptFormat(modelDir);
  if (setting === 'auto') return recorded ?? resolvePromptFormat(tokenizer);
  if (recorded !== undefined && recorded !== setting) {
    throw new PromptFormatMismatch(
      `${modelDir} was trained with --prompt-format ${recorded} (trainer_state.json), but ${setting} was asked for; ` +
        `drop --prompt-format to use the trained one, or retrain with --prompt-format ${setting}`,
    );
  }
  return setting;
}
