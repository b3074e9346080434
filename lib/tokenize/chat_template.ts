// Chat templates: the model's Jinja template rendered as `transformers.apply_chat_template` does,
// or, for a model without one, a documented plain-text layout.
import { Template } from '@huggingface/jinja';
import type { Tokenizer } from './tokenizer.js';

export interface ChatTurn {
  role: string;
  content: string;
}

export interface RenderChatOptions {
  /** Append the header that opens an assistant turn (for prompting). Default false. */
  addGenerationPrompt?: boolean;
  /** Passed as `tools`; null (Python's None) when absent, which templates test with `tools is not none`. */
  tools?: unknown[] | null;
  /** Further template variables (e.g. `date_string`), as keyword arguments in Python. */
  variables?: Record<string, unknown>;
  /** Rendering stops with a ChatTemplateError after this long (default 5000 ms). */
  timeLimitMs?: number;
}

/** Most numbers one `range()` call in a template may produce. */
export const MAX_TEMPLATE_RANGE = 100_000;

/**
 * Jinja has no while loop, so a template runs for ever (or as good as) only through huge or nested
 * `range()` loops. This `range` (Python's semantics) refuses huge ones and, called once per loop
 * entry, checks the deadline, so a hostile or broken template ends with an error, not a hung process.
 */
function boundedRange(deadline: number, limitMs: number) {
  return (start: number, stop?: number, step = 1): number[] => {
    if (performance.now() > deadline) throw new ChatTemplateError(`the chat template ran longer than ${limitMs} ms (a runaway loop?)`);
    if (stop === undefined) [start, stop] = [0, start];
    if (step === 0) throw new Error('range() step must not be zero');
    const n = Math.max(0, Math.ceil((stop - start) / step));
    if (!Number.isFinite(n) || n > MAX_TEMPLATE_RANGE)
      throw new ChatTemplateError(`range() of ${n} numbers in the chat template (at most ${MAX_TEMPLATE_RANGE})`);
    return Array.from({ length: n }, (_, i) => start + i * step);
  };
}

/** A template that raised (via `raise_exception`) or failed to parse. */
export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError';
}

const compiled = new Map<string, Template>();

/** The name the template's `range(...)` calls are routed to (see boundedRange). */
const BOUNDED_RANGE = '__rdpo_bounded_range';

/**
 * The engine's own `range` global cannot be replaced through the context, so calls to it are
 * pointed at BOUNDED_RANGE in the parsed template (a walk over the syntax tree, once per template).
 */
function routeRangeCalls(node: unknown, seen = new Set<unknown>()): void {
  if (node === null || typeof node !== 'object' || seen.has(node)) return;
  seen.add(node);
  const n = node as { type?: string; callee?: { type?: string; value?: unknown } };
  if (n.type === 'CallExpression' && n.callee?.type === 'Identifier' && n.callee.value === 'range') n.callee.value = BOUNDED_RANGE;
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) for (const v of value) routeRangeCalls(v, seen);
    else routeRangeCalls(value, seen);
  }
}

function compile(source: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (err) {
      throw new ChatTemplateError(`the chat template does not parse: ${(err as Error).message}`);
    }
    routeRangeCalls(t.parsed);
    compiled.set(source, t);
  }
  return t;
}

/**
 * Render `messages` with a Jinja chat template. The context is what transformers passes: `messages`,
 * `add_generation_prompt`, the special tokens (`bos_token`, `eos_token`, `pad_token`, `unk_token`), `tools`
 * and `documents` (None unless given), plus `raise_exception` and `strftime_now` (built into the engine).
 */
export function renderTemplate(
  source: string,
  messages: readonly ChatTurn[],
  specialTokens: Record<string, string | null>,
  opts: RenderChatOptions = {},
): string {
  if (messages.length === 0) throw new ChatTemplateError('cannot apply a chat template to an empty conversation');
  const context: Record<string, unknown> = {
    ...Object.fromEntries(Object.entries(specialTokens).filter(([, v]) => v !== null)),
    messages: messages.map((m) => ({ ...m })),
    add_generation_prompt: opts.addGenerationPrompt ?? false,
    tools: opts.tools ?? null,
    documents: null,
    ...(opts.variables ?? {}),
  };
  const limitMs = opts.timeLimitMs ?? 5000;
  context[BOUNDED_RANGE] = boundedRange(performance.now() + limitMs, limitMs);
  try {
    return compile(source).render(context);
  } catch (err) {
    if (err instanceof ChatTemplateError) throw err;
    throw new ChatTemplateError(`chat template: ${(err as Error).message}`);
  }
}

const ROLE_LABELS: Record<string, string> = { system: 'System', user: 'User', assistant: 'Assistant' };

/**
 * The layout for a model with no chat template. Turns are `Label: content`, joined by a blank line,
 * labels `System`, `User`, `Assistant` (other roles capitalised). An assistant turn ends with the EOS
 * token so the model learns where answers stop; the generation prompt is a final `Assistant:` after a
 * blank line. No BOS is written: the tokenizer's own `addSpecialTokens` behaviour adds it.
 *
 *     User: What is 2+2?
 *
 *     Assistant: 4.</s>
 *
 *     User: And 3+3?
 *
 *     Assistant:
 */
export function renderPlainChat(messages: readonly ChatTurn[], eosToken: string | null, opts: RenderChatOptions = {}): string {
  if (messages.length === 0) throw new ChatTemplateError('cannot render an empty conversation');
  const turns = messages.map((m) => {
    const label = ROLE_LABELS[m.role] ?? m.role.charAt(0).toUpperCase() + m.role.slice(1);
    return `${label}: ${m.content}${m.role === 'assistant' ? (eosToken ?? '') : ''}`;
  });
  let text = turns.join('\n\n');
  if (opts.addGenerationPrompt) text += '\n\nAssistant:';
  return text;
}

/** Render with the tokenizer's template, or the plain layout (`renderPlainChat`) when it has none. */
export function renderChat(tokenizer: Tokenizer, messages: readonly ChatTurn[], opts: RenderChatOptions = {}): string {
  if (tokenizer.chatTemplate === null) return renderPlainChat(messages, tokenizer.eosToken, opts);
  return renderTemplate(tokenizer.chatTemplate, messages, { ...tokenizer.specialTokens }, opts);
}

/**
 * Token ids of a rendered conversation, as `apply_chat_template(tokenize=True)`: the template writes any
 * BOS itself, so the text is encoded without special tokens. The plain layout has no BOS of its own, so
 * there the tokenizer's usual special tokens are added.
 */
export function applyChatTemplate(tokenizer: Tokenizer, messages: readonly ChatTurn[], opts: RenderChatOptions = {}): number[] {
  const text = renderChat(tokenizer, messages, opts);
  return tokenizer.encode(text, { addSpecialTokens: tokenizer.chatTemplate === null });
}
