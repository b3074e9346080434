// Packing token sequences into the padding-free batch layout of native/core/model/packed_batch.h. This
// file is the one home of the layout rule; every packer in lib/ (eval and logprobs through
// packSequences, the trainer through train/preference_batch.ts) builds with PackBuilder.
//
// A group is one prompt (the trunk, branch 0) followed by its completions (branches 1, 2, ...).
// Positions restart per group and each branch continues from the prompt's length; each branch
// attends to the prompt and to itself only. Every completion is scored as its own sequence: the
// last prompt token predicts its first token, and each completion token predicts the next one.
// A completion's last token predicts nothing, so it is scored but not fed in (the branch holds
// completion[0 .. n-2]). A plain sequence is a group that is all trunk, scored from its second
// token on.
import type { NativePackedBatch } from '../native/binding.js';

export type PackedBatch = NativePackedBatch;

export interface PromptGroup {
  prompt: number[];
  completions: number[][];
}

function checkTokens(tokens: readonly number[], what: string): void {
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff) throw new RangeError(`${what}: token ids must be non-negative integers, got ${t}`);
  }
}

/** Rows a group takes in the packed batch: the prompt once, each completion less its last token. */
export function packedRows(promptLength: number, completionLengths: readonly number[]): number {
  return completionLengths.reduce((n, c) => n + Math.max(0, c - 1), promptLength);
}

/** Builds a packed batch group by group under the rule above. */
export class PackBuilder {
  private readonly ids: number[] = [];
  private readonly pos: number[] = [];
  private readonly branch: number[] = [];
  private readonly groups: number[] = [0];
  private readonly rows: number[] = [];
  private readonly targets: number[] = [];
  private readonly seqs: number[] = [];

  /** Rows so far (what the model computes). */
  get rowCount(): number {
    return this.ids.length;
  }

  get groupCount(): number {
    return this.groups.length - 1;
  }

  /**
   * Adds one group: the trunk, then each branch k scored as sequence seqIds[k]. `where` names the
   * group in errors (e.g. "pair 3").
   */
  group(trunk: readonly number[], branches: ReadonlyArray<readonly number[]>, seqIds: readonly number[], where: string): void {
    if (trunk.length === 0) throw new RangeError(`${where}: the prompt has no tokens (an empty prompt), so nothing predicts the first completion token`);
    if (branches.length !== seqIds.length) throw new RangeError(`${where}: ${branches.length} completions but ${seqIds.length} sequence numbers`);
    checkTokens(trunk, `${where} prompt`);
    const start = this.ids.length;
    trunk.forEach((t, i) => this.row(t, i, 0));
    const lastTrunkRow = start + trunk.length - 1;
    branches.forEach((completion, k) => {
      checkTokens(completion, `${where} completion ${k}`);
      let prev = lastTrunkRow;
      completion.forEach((t, j) => {
        this.score(prev, t, seqIds[k]!);
        if (j === completion.length - 1) return;
        prev = this.ids.length;
        this.row(t, trunk.length + j, k + 1);
      });
    });
    this.groups.push(this.ids.length);
  }

  /** Adds a plain causal sequence as a group of its own, every token after the first scored as `seq`. */
  plain(sequence: readonly number[], seq: number, where: string): void {
    if (sequence.length === 0) throw new RangeError(`${where} is empty`);
    checkTokens(sequence, where);
    const start = this.ids.length;
    sequence.forEach((t, j) => {
      if (j > 0) this.score(start + j - 1, t, seq);
      this.row(t, j, 0);
    });
    this.groups.push(this.ids.length);
  }

  private row(token: number, position: number, branch: number): void {
    this.ids.push(token);
    this.pos.push(position);
    this.branch.push(branch);
  }

  private score(row: number, target: number, seq: number): void {
    this.rows.push(row);
    this.targets.push(target);
    this.seqs.push(seq);
  }

  /** The typed arrays, with `numSequences` scored-sequence slots. */
  build(numSequences: number): PackedBatch {
    return {
      inputIds: Int32Array.from(this.ids),
      positionIds: Int32Array.from(this.pos),
      branchIds: Int32Array.from(this.branch),
      groupOffsets: Int32Array.from(this.groups),
      scoreRows: Int32Array.from(this.rows),
      scoreTargets: Int32Array.from(this.targets),
      scoreSeq: Int32Array.from(this.seqs),
      numSequences,
    };
  }
}

/** Packs shared-prompt groups; sequence i is the i-th completion counting across groups in order. */
export function packSequences(groups: PromptGroup[]): PackedBatch {
  if (groups.length === 0) throw new RangeError('packSequences: no groups given');
  const b = new PackBuilder();
  let seq = 0;
  groups.forEach((g, gi) => {
    if (g.completions.length === 0) throw new RangeError(`packSequences: group ${gi} has no completions`);
    b.group(
      g.prompt,
      g.completions,
      g.completions.map(() => seq++),
      `packSequences: group ${gi}`,
    );
  });
  return b.build(seq);
}

/** Independent sequences, each its own group, scoring every token after the first. */
export function packPlainSequences(seqs: number[][]): PackedBatch {
  if (seqs.length === 0) throw new RangeError('packPlainSequences: no sequences given');
  const b = new PackBuilder();
  seqs.forEach((q, i) => b.plain(q, i, `packPlainSequences: sequence ${i}`));
  return b.build(seqs.length);
}
