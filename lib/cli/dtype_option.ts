// `--dtype`, read the same way by every command. What it sets differs by command family, and each
// command's help names it: the compute dtype (train, plan, bench, compare's training runs: autocast
// over float32 master weights), or the weight dtype the model is loaded and stored in (eval,
// generate, serve, the local rationale generator and judge, import-gguf's output). The spellings are
// one list: bfloat16 or bf16, float32 or f32, float16 or f16.
import { UsageError } from '../errors.js';
import type { ModelDtype } from '../model/causal_lm.js';

export type DtypeName = 'auto' | 'float32' | 'bfloat16' | 'float16';

const SPELLINGS: Record<string, DtypeName> = {
  auto: 'auto',
  float32: 'float32',
  f32: 'float32',
  bfloat16: 'bfloat16',
  bf16: 'bfloat16',
  float16: 'float16',
  f16: 'float16',
};

const SHORT: Partial<Record<DtypeName, string>> = { float32: 'f32', bfloat16: 'bf16', float16: 'f16' };

/** The weight dtypes a model loads and is written in (model/causal_lm.ts's ModelDtype). */
export const WEIGHT_DTYPES = ['float32', 'bfloat16', 'float16'] as const satisfies readonly ModelDtype[];

/** A commander argument parser for a weight-dtype `--dtype`. */
export const weightDtypeOption = (value: string): ModelDtype => parseDtypeOption(value, WEIGHT_DTYPES);

/** The full name of a dtype spelling (`bf16` → `bfloat16`); a spelling we do not know comes back as given, for the caller's own check. */
export function canonicalDtype(value: string): string {
  return Object.hasOwn(SPELLINGS, value.trim().toLowerCase()) ? SPELLINGS[value.trim().toLowerCase()]! : value;
}

/** `--dtype`'s value as one of `allowed`, or a usage error that lists them. */
export function parseDtypeOption<T extends DtypeName>(value: string, allowed: readonly T[], flag = '--dtype'): T {
  const name = canonicalDtype(value);
  if (!(allowed as readonly string[]).includes(name)) {
    const short = allowed.map((d) => SHORT[d]).filter((s): s is string => s !== undefined);
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"${short.length ? ` (short spellings: ${short.join(', ')})` : ''}`);
  }
  return name as T;
}

/** "float32 (f32) | bfloat16 (bf16)": the choices for a help text. */
export function dtypeChoices(allowed: readonly DtypeName[]): string {
  return allowed.map((d) => (SHORT[d] ? `${d} (${SHORT[d]})` : d)).join(' | ');
}
