// Packs tokenized preference examples into the padding-free layout of native/core/packed_batch.h.
//
// A pair is one group: the prompt is the trunk (computed once), the chosen and rejected
// completions are branches 1 and 2 that both attend to it. Rationales come after all pairs, one
// group each (conditioning prompt as trunk, rationale as branch 1). Sequence numbers: chosen of
// pair i → i, rejected → B + i, rationale → 2B + i.
//
// The last token of a completion predicts nothing, so it is scored but never fed in: a branch
// holds completion[0 .. n-2], and completion[0] is predicted by the trunk's last row.

import type { NativePackedBatch } from '../native/binding.js';

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

class Packer {
  ids: number[] = [];
  pos: number[] = [];
  branch: number[] = [];
  groups: number[] = [0];
  rows: number[] = [];
  targets: number[] = [];
  seqs: number[] = [];

  /** Adds one group: a trunk and branches, each branch scored as sequence seqIds[k]. */
  group(trunk: readonly number[], branches: ReadonlyArray<readonly number[]>, seqIds: readonly number[], where: string): void {
    if (trunk.length === 0) throw new RangeError(`${where}: the prompt has no tokens, so nothing predicts the first completion token`);
    const start = this.ids.length;
    for (let i = 0; i < trunk.length; i++) {
      this.ids.push(trunk[i]!);
      this.pos.push(i);
      this.branch.push(0);
    }
    const lastTrunkRow = start + trunk.length - 1;
    branches.forEach((completion, k) => {
      if (completion.length === 0) throw new RangeError(`${where}: an empty completion (it must at least hold EOS)`);
      const branchStart = this.ids.length;
      for (let j = 0; j < completion.length - 1; j++) {
        this.ids.push(completion[j]!);
        this.pos.push(trunk.length + j);
        this.branch.push(k + 1);
      }
      for (let j = 0; j < completion.length; j++) {
        this.rows.push(j === 0 ? lastTrunkRow : branchStart + j - 1);
        this.targets.push(completion[j]!);
        this.seqs.push(seqIds[k]!);
      }
    });
    this.groups.push(this.ids.length);
  }
}

export function packPreferenceBatch(examples: readonly PreferenceExample[], opts: { rejected: boolean; rationale: boolean }): PackedPreferenceBatch {
  const B = examples.length;
  if (B === 0) throw new RangeError('a preference batch needs at least one pair');
  const p = new Packer();
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
    p.group(ex.pair.promptIds, branches, seqIds, `pair ${i}`);
  });
  const numPairGroups = p.groups.length - 1;
  if (opts.rationale) {
    examples.forEach((ex, i) => {
      if (!ex.rationale) throw new TypeError(`pair ${i} has no rationale`);
      rationaleTokens += ex.rationale.promptIds.length + ex.rationale.rationaleIds.length;
      p.group(ex.rationale.promptIds, [ex.rationale.rationaleIds], [2 * B + i], `rationale ${i}`);
    });
  }
  return {
    inputIds: Int32Array.from(p.ids),
    positionIds: Int32Array.from(p.pos),
    branchIds: Int32Array.from(p.branch),
    groupOffsets: Int32Array.from(p.groups),
    scoreRows: Int32Array.from(p.rows),
    scoreTargets: Int32Array.from(p.targets),
    scoreSeq: Int32Array.from(p.seqs),
    // Sequence slots are fixed (chosen, rejected, rationale); unused slots score no tokens.
    numSequences: B * (opts.rationale ? 3 : 2),
    numPairs: B,
    numPairGroups,
    hasRejected: opts.rejected,
    hasRationale: opts.rationale,
    pairTokens,
    rationaleTokens,
    packedTokens: p.ids.length,
  };
}
