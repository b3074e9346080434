// The OpenAI chat-completions request as this server accepts it, and OpenAI's error shape.
import { z } from 'zod';
import type { ChatMessage } from '../data/schema.js';

const TextPart = z.object({ type: z.literal('text'), text: z.string() }).loose();

const Message = z
  .object({
    // `developer` is OpenAI's newer name for the system role.
    role: z.enum(['system', 'developer', 'user', 'assistant']),
    content: z.union([z.string(), z.array(TextPart)]),
  })
  .loose();

/** Most choices per prompt (`n`), and most choices per request (prompts × n). */
export const MAX_CHOICES = 8;
export const MAX_CHOICES_PER_REQUEST = 64;
/** Most alternatives per position (`top_logprobs`, completions' `logprobs`); OpenAI's own bound. */
export const MAX_TOP_LOGPROBS = 20;

/** What both endpoints take: length, sampling, stopping, choices, streaming. */
const GenerationFields = {
  model: z.string().min(1).optional(),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** Not OpenAI's, but vLLM's and llama.cpp's. */
  top_k: z.number().int().min(0).nullish(),
  // The native sampler takes 0..2^53 (native/napi/model.cpp); anything else is the caller's error.
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 53)
    .nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  n: z.number().int().min(1).max(MAX_CHOICES, `at most ${MAX_CHOICES} choices per prompt`).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).loose().nullish(),
};

export const ChatCompletionRequestSchema = z
  .object({
    ...GenerationFields,
    messages: z.array(Message).min(1),
    max_completion_tokens: z.number().int().positive().nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  })
  .loose();
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

const TokenIds = z.array(z.number().int().min(0)).min(1);

export const CompletionRequestSchema = z
  .object({
    ...GenerationFields,
    /** One prompt or several: text, or token ids. */
    prompt: z.union([z.string(), z.array(z.string()).min(1), TokenIds, z.array(TokenIds).min(1)]),
    logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
    echo: z.boolean().nullish(),
    suffix: z.string().nullish(),
    best_of: z.number().int().min(1).nullish(),
  })
  .loose();
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

export function toChatMessages(messages: ChatCompletionRequest['messages']): ChatMessage[] {
  return messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
  }));
}

/** An error answer in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function validationError(error: z.ZodError): HttpError {
  const issue = error.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.join('.') : null;
  return new HttpError(400, `${param ?? 'body'}: ${issue?.message ?? 'invalid request'}`, 'invalid_request_error', param);
}
