// Preference accuracy on held-out pairs. With a reference model, the DPO implicit reward
// r(y) = β·(log π(y|x) − log π_ref(y|x)) of chosen and rejected (summed completion log-probs,
// TRL's tokenization); accuracy is the share of pairs with r(chosen) > r(rejected) (a tie is not
// a success, as in TRL), the margin r(chosen) − r(rejected). Without a reference, the same on the
// policy's own log-probs (log-prob accuracy).
import type { PreferencePair } from '../data/schema.js';
import { tokenizePreferences, type PreferenceTokenizeOptions } from '../tokenize/preference_tokens.js';
import type { LoadedModel } from '../inference/load_model.js';
import { pairLogprobs } from '../inference/pair_logprobs.js';

export interface PairScore {
  id: string;
  policyChosen: number;
  policyRejected: number;
  refChosen?: number;
  refRejected?: number;
  chosenReward?: number;
  rejectedReward?: number;
}

export interface PreferenceEvalResult {
  /** Pairs scored (pairs whose prompt alone fills maxLength are left out and counted in `dropped`). */
  pairs: number;
  dropped: number;
  beta: number;
  reference: string | null;
  /** With a reference: share of pairs with chosen reward > rejected reward; null without one. */
  rewardAccuracy: number | null;
  meanRewardMargin: number | null;
  meanChosenReward: number | null;
  meanRejectedReward: number | null;
  /** Share of pairs with log π(chosen) > log π(rejected), summed over completion tokens. */
  logprobAccuracy: number;
  meanLogprobMargin: number;
}

export interface PreferenceEvalOptions {
  policy: LoadedModel;
  reference?: LoadedModel;
  pairs: readonly PreferencePair[];
  beta?: number;
  batchSize?: number;
  tokenize?: PreferenceTokenizeOptions;
  warn?: (message: string) => void;
}

const mean = (v: number[]) => (v.length === 0 ? 0 : v.reduce((a, b) => a + b, 0) / v.length);

export async function evaluatePreferences(options: PreferenceEvalOptions): Promise<{ result: PreferenceEvalResult; scores: PairScore[] }> {
  const { policy, reference } = options;
  const beta = options.beta ?? 0.1;
  const batchSize = options.batchSize ?? 8;
  // The policy's tokenizer decides the tokens for both models: a reference must share the vocabulary.
  const tokenized = tokenizePreferences(
    policy.tokenizer,
    options.pairs.map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, ...(p.system !== undefined ? { system: p.system } : {}) })),
    { maxLength: 1024, maxPromptLength: 512, ...options.tokenize, ...(options.warn ? { warn: options.warn } : {}) },
  );
  const scores: PairScore[] = [];
  for (let start = 0; start < tokenized.pairs.length; start += batchSize) {
    const slice = tokenized.pairs.slice(start, start + batchSize);
    const pol = await pairLogprobs(policy.lm, slice);
    const ref = reference ? await pairLogprobs(reference.lm, slice) : undefined;
    slice.forEach((p, i) => {
      const s: PairScore = { id: options.pairs[p.index]!.id, policyChosen: pol[i]!.chosen, policyRejected: pol[i]!.rejected };
      if (ref) {
        s.refChosen = ref[i]!.chosen;
        s.refRejected = ref[i]!.rejected;
        s.chosenReward = beta * (s.policyChosen - s.refChosen);
        s.rejectedReward = beta * (s.policyRejected - s.refRejected);
      }
      scores.push(s);
    });
  }
  const n = scores.length;
  const withRef = reference !== undefined;
  const result: PreferenceEvalResult = {
    pairs: n,
    dropped: tokenized.stats.dropped,
    beta,
    reference: reference?.name ?? null,
    rewardAccuracy: withRef && n > 0 ? scores.filter((s) => s.chosenReward! > s.rejectedReward!).length / n : null,
    meanRewardMargin: withRef && n > 0 ? mean(scores.map((s) => s.chosenReward! - s.rejectedReward!)) : null,
    meanChosenReward: withRef && n > 0 ? mean(scores.map((s) => s.chosenReward!)) : null,
    meanRejectedReward: withRef && n > 0 ? mean(scores.map((s) => s.rejectedReward!)) : null,
    logprobAccuracy: n > 0 ? scores.filter((s) => s.policyChosen > s.policyRejected).length / n : 0,
    meanLogprobMargin: mean(scores.map((s) => s.policyChosen - s.policyRejected)),
  };
  return { result, scores };
}
