// Typed access to the keys of a raw row; every failure is a RowError naming the key.
import { RowError } from './errors.js';

export type Row = Record<string, unknown>;

export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** `row[key]` as a string; `allowEmpty` for keys such as an Alpaca-style empty `input`. */
export function text(row: Row, key: string, opts: { allowEmpty?: boolean; label?: string } = {}): string {
  const label = opts.label ?? `\`${key}\``;
  const v = row[key];
  if (v === undefined) throw new RowError(`${label} is missing`);
  if (typeof v !== 'string') throw new RowError(`${label} must be a string, got ${describeType(v)}`);
  if (!opts.allowEmpty && v.trim() === '') throw new RowError(`${label} is empty`);
  return v;
}

/** `row[key]` as a string when present and not null; a wrong type is still an error. */
export function optionalText(row: Row, key: string): string | undefined {
  const v = row[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new RowError(`\`${key}\` must be a string, got ${describeType(v)}`);
  return v;
}

export function list(row: Row, key: string, label = `\`${key}\``): unknown[] {
  const v = row[key];
  if (v === undefined) throw new RowError(`${label} is missing`);
  if (!Array.isArray(v)) throw new RowError(`${label} must be a list, got ${describeType(v)}`);
  if (v.length === 0) throw new RowError(`${label} is an empty list`);
  return v;
}

export function object(row: Row, key: string, label = `\`${key}\``): Row {
  const v = row[key];
  if (v === undefined) throw new RowError(`${label} is missing`);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RowError(`${label} must be an object, got ${describeType(v)}`);
  return v as Row;
}

export function isRow(v: unknown): v is Row {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A source id for the pair: strings and integers are accepted. */
export function sourceId(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim() !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}
