// The instructions that ask a model to explain a known preference (the paper's two styles),
// and user-supplied templates with the same three slots.
import { readFileSync } from 'node:fs';
import type { ChatMessage, PreferencePair } from '../data/schema.js';
import { UsageError } from '../errors.js';

export const RATIONALE_STYLES = ['general', 'detailed'] as const;
export type RationaleStyle = (typeof RATIONALE_STYLES)[number];

export const TEMPLATE_SLOTS = ['prompt', 'chosen', 'rejected'] as const;
export type TemplateSlot = (typeof TEMPLATE_SLOTS)[number];

/** A template: text with `{prompt}`, `{chosen}` and `{rejected}` each appearing at least once. */
export interface RationaleTemplate {
  /** Where it came from, for messages: `builtin:general`, or the file path. */
  source: string;
  text: string;
}

// Our own wording of the two prompts described in the paper (section on rationale generation):
// the preferred response is always shown first, and the model is told which one is preferred.
const GENERAL = `Below is a prompt followed by two responses to it. Response 1 has been judged better than Response 2.

[Prompt]
{prompt}

[Response 1 (preferred)]
{chosen}

[Response 2]
{rejected}

Explain why Response 1 is preferred over Response 2. Keep the explanation at a high, general level: name the qualities that make a response like the first one better for this prompt, without going into the specific details or wording of either response. Answer with the explanation only, in a few sentences.`;

const DETAILED = `Below is a prompt followed by two responses to it. Response 1 has been judged better than Response 2.

[Prompt]
{prompt}

[Response 1 (preferred)]
{chosen}

[Response 2]
{rejected}

Explain specifically and in detail why Response 1 is preferred over Response 2. Point directly at the content of both responses: what the first one does well, and what the second one gets wrong, leaves out or does worse. Answer with the explanation only.`;

export function builtinTemplate(style: RationaleStyle): RationaleTemplate {
  return { source: `builtin:${style}`, text: style === 'general' ? GENERAL : DETAILED };
}

export function parseStyle(value: string): RationaleStyle {
  if ((RATIONALE_STYLES as readonly string[]).includes(value)) return value as RationaleStyle;
  throw new UsageError(`--style must be one of ${RATIONALE_STYLES.join(', ')} (got "${value}")`);
}

/** Checks that every slot is present; a missing one is an error naming it and the file. */
export function checkTemplate(template: RationaleTemplate): RationaleTemplate {
  const missing = TEMPLATE_SLOTS.filter((slot) => !template.text.includes(`{${slot}}`));
  if (missing.length > 0) {
    const names = missing.map((s) => `{${s}}`).join(', ');
    throw new UsageError(
      `template ${template.source} is missing the slot${missing.length > 1 ? 's' : ''} ${names}; ` +
        `a template must contain {prompt}, {chosen} and {rejected}`,
    );
  }
  return template;
}

export function loadTemplate(file: string): RationaleTemplate {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --template ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return checkTemplate({ source: file, text });
}

/**
 * The prompt of a pair as text: plain prompts as they are; a conversation (with the system
 * message, if any) as a transcript with one role label per turn, so multi-turn context survives.
 */
export function promptAsText(pair: Pick<PreferencePair, 'prompt' | 'system'>): string {
  const turns: ChatMessage[] = typeof pair.prompt === 'string' ? [{ role: 'user', content: pair.prompt }] : [...pair.prompt];
  if (pair.system !== undefined && pair.system !== '' && turns[0]?.role !== 'system') {
    turns.unshift({ role: 'system', content: pair.system });
  }
  const only = turns[0];
  if (turns.length === 1 && only !== undefined && only.role === 'user') return only.content;
  const label = { system: 'System', user: 'User', assistant: 'Assistant' } as const;
  return turns.map((m) => `${label[m.role]}: ${m.content}`).join('\n\n');
}

/** Fills the slots in one pass, so text inside a slot value (say, a literal "{chosen}") is never re-expanded. */
export function fillTemplate(template: RationaleTemplate, values: Record<TemplateSlot, string>): string {
  return template.text.replace(/\{(prompt|chosen|rejected)\}/g, (_, slot: TemplateSlot) => values[slot]);
}

export function rationaleRequest(template: RationaleTemplate, pair: PreferencePair): string {
  return fillTemplate(template, { prompt: promptAsText(pair), chosen: pair.chosen, rejected: pair.rejected });
}
