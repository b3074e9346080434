// `--judge` → a PairwiseJudge: `exact:NAME` (a built-in checker), `openai:BASE_URL` (any
// OpenAI-compatible server) or a local model directory (its chat template + generate).
import { openGenerator } from '../llm/connect.js';
import { exactChecker } from './exact_checkers.js';
import { exactJudge, LlmJudge, type PairwiseJudge } from './judge.js';

export interface OpenJudgeOptions {
  /** The served model's name (openai: only; a single-model server needs none). */
  judgeModel?: string;
  apiKeyEnv?: string;
  maxNewTokens?: number;
  seed?: number;
  dtype?: string;
  device?: string;
}

export async function openJudge(spec: string, options: OpenJudgeOptions = {}): Promise<PairwiseJudge> {
  if (spec.startsWith('exact:')) {
    const name = spec.slice('exact:'.length);
    return exactJudge(name, exactChecker(name));
  }
  const generator = await openGenerator(spec, {
    ...(options.judgeModel !== undefined ? { model: options.judgeModel } : {}),
    ...(options.apiKeyEnv !== undefined ? { apiKeyEnv: options.apiKeyEnv } : {}),
    ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
    ...(options.device !== undefined ? { device: options.device } : {}),
    maxBatch: 8,
  });
  return new LlmJudge(generator, {
    ...(options.maxNewTokens !== undefined ? { maxNewTokens: options.maxNewTokens } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
}
