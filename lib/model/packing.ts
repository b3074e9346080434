// Packing token sequences into the padding-free batch layout of native/core/packed_batch.h.
//
// A group is one prompt (the trunk, branch 0) followed by its completions (branches 1, 2, ...).
// Positions restart per group and each branch continues from the prompt's length; each branch
// attends to the prompt and to itself only. Every completion is scored as its own sequence: the
// last prompt token predicts its first token, and each completion token predicts the next one.
// A completion's last token predicts nothing, so it is scored but not fed in (the branch holds
// completion[0 .. n-2]), as lib/train/preference_batch.ts does.
import type { NativePackedBatch } from '../native/binding.js';

export type PackedBatch = NativePackedBatch;

export interface PromptGroup {
  prompt: number[];
  completions: number[][];
}

function checkTokens(tokens: number[], what: string): void {
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff) throw new RangeError(`${what}: token ids must be non-negative integers, got ${t}`);
  }
}

/** Packs shared-prompt groups; sequence i is the i-th completion counting across groups in order. */
export function packSequences(groups: PromptGroup[]): PackedBatch {
  if (groups.length === 0) throw new RangeError('packSequences: no groups given');
  let total = 0;
  let scored = 0;
  groups.forEach((g, gi) => {
    if (g.prompt.length === 0) throw new RangeError(`packSequences: group ${gi} has an empty prompt (the last prompt token predicts the first completion token)`);
    if (g.completions.length === 0) throw new RangeError(`packSequences: group ${gi} has no completions`);
    checkTokens(g.prompt, `group ${gi} prompt`);
    total += g.prompt.length;
    g.completions.forEach((c, ci) => {
      checkTokens(c, `group ${gi} completion ${ci}`);
      total += Math.max(0, c.length - 1);
      scored += c.length;
    });
  });
  const inputIds = new Int32Array(total);
  const positionIds = new Int32Array(total);
  const branchIds = new Int32Array(total);
  const groupOffsets = new Int32Array(groups.length + 1);
  const scoreRows = new Int32Array(scored);
  const scoreTargets = new Int32Array(scored);
  const scoreSeq = new Int32Array(scored);
  let row = 0;
  let s = 0;
  let seq = 0;
  groups.forEach((g, gi) => {
    const promptEnd = row + g.prompt.length;
    g.prompt.forEach((t, i) => {
      inputIds[row] = t;
      positionIds[row] = i;
      row++;
    });
    g.completions.forEach((c, ci) => {
      let prev = promptEnd - 1;
      c.forEach((t, j) => {
        scoreRows[s] = prev;
        scoreTargets[s] = t;
        scoreSeq[s] = seq;
        s++;
        if (j === c.length - 1) return;
        inputIds[row] = t;
        positionIds[row] = g.prompt.length + j;
        branchIds[row] = ci + 1;
        prev = row;
        row++;
      });
      seq++;
    });
    groupOffsets[gi + 1] = row;
  });
  return { inputIds, positionIds, branchIds, groupOffsets, scoreRows, scoreTargets, scoreSeq, numSequences: seq };
}

/** Independent sequences, each its own group, scoring every token after the first. */
export function packPlainSequences(seqs: number[][]): PackedBatch {
  if (seqs.length === 0) throw new RangeError('packPlainSequences: no sequences given');
  seqs.forEach((q, i) => {
    if (q.length === 0) throw new RangeError(`packPlainSequences: sequence ${i} is empty`);
  });
  // Each sequence is a group of its own, all trunk (branch 0): plain causal attention.
  const total = seqs.reduce((n, q) => n + q.length, 0);
  const scored = total - seqs.length;
  const inputIds = new Int32Array(total);
  const positionIds = new Int32Array(total);
  const branchIds = new Int32Array(total);
  const groupOffsets = new Int32Array(seqs.length + 1);
  const scoreRows = new Int32Array(scored);
  const scoreTargets = new Int32Array(scored);
  const scoreSeq = new Int32Array(scored);
  let row = 0;
  let s = 0;
  seqs.forEach((q, i) => {
    checkTokens(q, `sequence ${i}`);
    q.forEach((t, j) => {
      inputIds[row + j] = t;
      positionIds[row + j] = j;
      if (j > 0) {
        scoreRows[s] = row + j - 1;
        scoreTargets[s] = t;
        scoreSeq[s] = i;
        s++;
      }
    });
    row += q.length;
    groupOffsets[i + 1] = row;
  });
  return { inputIds, positionIds, branchIds, groupOffsets, scoreRows, scoreTargets, scoreSeq, numSequences: seqs.length };
}
