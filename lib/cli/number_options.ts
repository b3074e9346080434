// Numeric command-line options, checked with an error that names the flag.
import { UsageError } from '../errors.js';

export function wholeNumberOption(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number ≥ ${min}, got "${value}"`);
  return n;
}

export function realNumberOption(value: string, flag: string, min: number, max = Infinity): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be a number in [${min}, ${max === Infinity ? '∞' : max}], got "${value}"`);
  }
  return n;
}
