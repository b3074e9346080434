// Packs tokenized preference examples with the layout rule of model/packing.ts (PackBuilder).
//
// A pair is one group: the prompt is the trunk (computed once), the chosen and rejected
// completions are branches 1 and 2 that both attend to it. Rationales come after all pairs, one
// group each (conditioning prompt as trunk, rationale as branch 1). Sequence numbers: chosen of
// pair i → i, rejected → B + i, rationale → 2B + i.

import type { NativePackedBatch } from '../native/binding.js';
import { PackBuilder } from '../model/packing.js';

export interface PairTokens {
  promptIds: readonly number[];
  chosenIds: readonly number[];
  rejectedIds?: readonly number[];
}

export interface RationaleTokens {
  promptIds: readonly number[];
  rationaleIds: readonly number[];
}

export interface PreferenceExample {
  pair: PairTokens;
  rationale?: RationaleTokens;
}

/** Typed arrays handed to the native trainer without a copy (the packed layout plus the pair bookkeeping). */
export interface PackedPreferenceBatch extends NativePackedBatch {
  numPairs: number;
  numPairGroups: number;
  hasRejected: boolean;
  hasRationale: boolean;
  /** Tokens as TRL's collator counts them: prompt + chosen and prompt + rejected, no padding. */
  pairTokens: number;
  /** Rationale tokens (conditioning prompt + rationale), counted separately. */
  rationaleTokens: number;
  /** Rows the model actually computes (shared prompts once, last completion tokens not fed). */
  packedTokens: number;
}

/** A trained completion scores at least its end token. */
function group(p: PackBuilder, trunk: readonly number[], branches: ReadonlyArray<readonly number[]>, seqIds: readonly number[], where: string): void {
  if (branches.some((c) => c.length === 0)) throw new RangeError(`${where}: an empty completion (it must at least hold EOS)`);
  p.group(trunk, branches, seqIds, where);
}

export function packPreferenceBatch(examples: readonly PreferenceExample[], opts: { rejected: boolean; rationale: boolean }): PackedPreferenceBatch {
  const B = examples.length;
  if (B === 0) throw new RangeError('a preference batch needs at least one pair');
  const p = new PackBuilder();
  let pairTokens = 0;
  let rationaleTokens = 0;
  examples.forEach((ex, i) => {
    const branches = [ex.pair.chosenIds];
    const seqIds = [i];
    if (opts.rejected) {
      if (!ex.pair.rejectedIds) throw new TypeError(`pair ${i} has no rejected completion`);
      branches.push(ex.pair.rejectedIds);
      seqIds.push(B + i);
      pairTokens += ex.pair.promptIds.length + ex.pair.rejectedIds.length;
    }
    pairTokens += ex.pair.promptIds.length + ex.pair.chosenIds.length;
    group(p, ex.pair.promptIds, branches, seqIds, `pair ${i}`);
  });
  const numPairGroups = p.groupCount;
  if (opts.rationale) {
    examples.forEach((ex, i) => {
      if (!ex.rationale) throw new TypeError(`pair ${i} has no rationale`);
      rationaleTokens += ex.rationale.promptIds.length + ex.rationale.rationaleIds.length;
      group(p, ex.rationale.promptIds, [ex.rationale.rationaleIds], [2 * B + i], `rationale ${i}`);
    });
  }
  return {
    // Sequence slots are fixed (chosen, rejected, rationale); unused slots score no tokens.
    ...p.build(B * (opts.rationale ? 3 : 2)),
    numPairs: B,
    numPairGroups,
    hasRejected: opts.rejected,
    hasRationale: opts.rationale,
    pairTokens,
    rationaleTokens,
    packedTokens: p.rowCount,
  };
}
