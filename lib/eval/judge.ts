// Pairwise judges. An LLM judge reads the paper's prompt and is asked in both presentation orders,
// several times; an exact checker decides from a checkable answer and is asked once per item.
import type { ChatGenerator } from '../llm/generator.js';
import { judgeMessages, parseJudgeAnswer, type Conversation, type JudgeChoice } from './judge_prompt.js';

/** A verdict about the compared sides, A and B. */
export type Verdict = 'A' | 'B' | 'tie';

/** For tasks with a checkable answer: which of two responses is right (or both/neither: a tie). */
export type ExactChecker = (prompt: Conversation, responseA: string, responseB: string) => Verdict | Promise<Verdict>;

export interface JudgeCall {
  /** 0-based repeat index; an LLM judge derives its seed from it. */
  repeat: number;
  signal?: AbortSignal;
}

export interface JudgeAnswer {
  /** About the shown positions: 1 = the response shown first. */
  choice: JudgeChoice;
  /** The judge's own words (LLM judges). */
  raw?: string;
}

export interface PairwiseJudge {
  /** Recorded with every judgment; part of the resume key, so a different judge redoes the items. */
  readonly name: string;
  /** `llm`: order and sampling may sway it (both orders, N repeats); `exact`: one call per item. */
  readonly kind: 'llm' | 'exact';
  /** Judges `first` (shown as Response 1) against `second`. */
  judge(prompt: Conversation, first: string, second: string, call: JudgeCall): Promise<JudgeAnswer>;
  close(): Promise<void>;
}

export interface LlmJudgeOptions {
  /** Most tokens of the judge's answer (HALOs allowed 10; a little more lets a chatty judge finish its verdict). */
  maxNewTokens?: number;
  /** Seed of repeat 0; repeat r uses seed + r. */
  seed?: number;
}

/** An LLM judge over any ChatGenerator (an OpenAI-compatible server, or a local model). Temperature 0. */
export class LlmJudge implements PairwiseJudge {
  readonly kind = 'llm' as const;
  private readonly maxNewTokens: number;
  private readonly seed: number;

  constructor(
    private readonly generator: ChatGenerator,
    options: LlmJudgeOptions = {},
  ) {
    this.maxNewTokens = options.maxNewTokens ?? 32;
    this.seed = options.seed ?? 0;
  }

  get name(): string {
    return `llm:${this.generator.model}`;
  }

  async judge(prompt: Conversation, first: string, second: string, call: JudgeCall): Promise<JudgeAnswer> {
    const completion = await this.generator.complete(judgeMessages(prompt, first, second), {
      maxNewTokens: this.maxNewTokens,
      temperature: 0,
      seed: this.seed + call.repeat,
      ...(call.signal ? { signal: call.signal } : {}),
    });
    return { choice: parseJudgeAnswer(completion.text), raw: completion.text };
  }

  close(): Promise<void> {
    return this.generator.close();
  }
}

/** Wraps an exact checker as a judge: `first`/`second` are passed as A/B and the verdict mapped back. */
export function exactJudge(name: string, check: ExactChecker): PairwiseJudge {
  return {
    name: `exact:${name}`,
    kind: 'exact',
    async judge(prompt, first, second) {
      const verdict = await check(prompt, first, second);
      if (verdict !== 'A' && verdict !== 'B' && verdict !== 'tie') {
        throw new TypeError(`exact checker ${name} returned ${JSON.stringify(verdict)}; it must return 'A', 'B' or 'tie'`);
      }
      return { choice: verdict === 'A' ? 1 : verdict === 'B' ? 2 : 'tie' };
    },
    close: async () => {},
  };
}
