// Scored tokens (TextGenerator.scoreTokens) in OpenAI's two shapes: chat's `logprobs.content`
// entries, and the legacy completions' parallel lists.
import type { ScoredToken } from '../inference/text_generator.js';

export interface ChatLogprobs {
  content: Array<{ token: string; logprob: number; bytes: number[]; top_logprobs: Array<{ token: string; logprob: number; bytes: number[] }> }>;
  refusal: null;
}

export function chatLogprobs(scored: readonly ScoredToken[]): ChatLogprobs {
  return {
    content: scored.map((s) => ({
      token: s.token,
      logprob: s.logprob,
      bytes: s.bytes,
      top_logprobs: s.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })),
    })),
    refusal: null,
  };
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  /** Per position, token text → log-prob; two ids with the same text keep the likelier one. */
  top_logprobs: Array<Record<string, number>>;
  /** Where each token's text starts in the choice's text (UTF-16 units, as `text` is indexed). */
  text_offset: number[];
}

/** `offset`: the length of the choice's text before these tokens (a stream's earlier chunks). */
export function completionLogprobs(scored: readonly ScoredToken[], offset = 0): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let at = offset;
  for (const s of scored) {
    out.tokens.push(s.token);
    out.token_logprobs.push(s.logprob);
    const top: Record<string, number> = {};
    for (const t of s.top) if (!Object.hasOwn(top, t.token)) top[t.token] = t.logprob;
    out.top_logprobs.push(top);
    out.text_offset.push(at);
    at += s.token.length;
  }
  return out;
}
