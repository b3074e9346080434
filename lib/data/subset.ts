// Deterministic subsets and evaluation splits. Pairs are ordered by a seeded hash of their id, so
// the order does not depend on the file's row order, growing a subset only appends to it (for one
// seed the 1K subset is the first 1K of the 3K subset), and the evaluation split, drawn first with
// its own salt, does not move when the training size changes.
import { createHash } from 'node:crypto';

export interface SubsetOptions {
  /** How many pairs to keep; all of them (in seeded order) when absent. */
  limit?: number;
  seed?: number | string;
}

export interface EvalSplitOptions {
  /** Exactly one of evalSize (a count) and evalFraction (in [0, 1)). */
  evalSize?: number;
  evalFraction?: number;
  seed?: number | string;
}

/** 64 bits of SHA-256 over (salt, seed, id) as 16 hex digits: compared as strings, ordered as numbers. */
function rank(salt: string, seed: number | string, id: string): string {
  return createHash('sha256').update(`${salt}\u0000${seed}\u0000${id}`).digest('hex').slice(0, 16);
}

/** The pairs' indices in seeded order; equal ids (not expected after loading) keep file order. */
function seededOrder(pairs: readonly { id: string }[], seed: number | string, salt: string): number[] {
  const ranks = pairs.map((p) => rank(salt, seed, p.id));
  return pairs.map((_, i) => i).sort((a, b) => (ranks[a]! < ranks[b]! ? -1 : ranks[a]! > ranks[b]! ? 1 : a - b));
}

function checkSeed(seed: unknown): number | string {
  if (seed === undefined) return 0;
  if ((typeof seed === 'number' && Number.isSafeInteger(seed)) || typeof seed === 'string') return seed;
  throw new TypeError(`seed must be an integer or a string, got ${String(seed)}`);
}

/**
 * A seeded random subset of `limit` pairs, in seeded order (a limit above the count keeps all).
 * Nested: for one seed, the subset of n pairs is the prefix of every larger one.
 */
export function selectSubset<T extends { id: string }>(pairs: readonly T[], opts: SubsetOptions = {}): T[] {
  const { limit } = opts;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new RangeError(`limit must be a whole number ≥ 0, got ${limit}`);
  }
  const order = seededOrder(pairs, checkSeed(opts.seed), 'subset');
  return (limit === undefined ? order : order.slice(0, limit)).map((i) => pairs[i]!);
}

/**
 * Splits off a seeded evaluation set; the training pairs keep their given order. Take the split
 * first and subset `train` afterwards, so that every training size is scored on the same pairs.
 */
export function splitEval<T extends { id: string }>(pairs: readonly T[], opts: EvalSplitOptions): { train: T[]; eval: T[] } {
  const { evalSize, evalFraction } = opts;
  if ((evalSize === undefined) === (evalFraction === undefined)) {
    throw new TypeError('splitEval needs exactly one of evalSize and evalFraction');
  }
  let size: number;
  if (evalSize !== undefined) {
    if (!Number.isSafeInteger(evalSize) || evalSize < 0 || evalSize >= pairs.length) {
      throw new RangeError(`evalSize must be a whole number from 0 to ${pairs.length - 1} (there are ${pairs.length} pairs), got ${evalSize}`);
    }
    size = evalSize;
  } else {
    if (!(evalFraction! >= 0 && evalFraction! < 1)) throw new RangeError(`evalFraction must be in [0, 1), got ${evalFraction}`);
    size = Math.round(evalFraction! * pairs.length);
  }
  const order = seededOrder(pairs, checkSeed(opts.seed), 'eval');
  const inEval = new Set(order.slice(0, size));
  return {
    train: pairs.filter((_, i) => !inEval.has(i)),
    eval: order.slice(0, size).map((i) => pairs[i]!),
  };
}
