// Reads a float32 safetensors file into named Float32Arrays (tests compare trained weights).
import { readFileSync } from 'node:fs';

export function readF32Safetensors(file: string): Map<string, Float32Array> {
  const buf = readFileSync(file);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const base = 8 + headerLength;
  const out = new Map<string, Float32Array>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (entry.dtype !== 'F32') throw new Error(`${file}: ${name} is ${entry.dtype}, expected F32`);
    const [start, end] = entry.data_offsets;
    const bytes = buf.subarray(base + start, base + end);
    out.set(name, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  }
  return out;
}

/** Largest |a − b| / max(1e-12, |b|) over all tensors, and whether the names match. */
export function maxRelativeDifference(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  if ([...a.keys()].sort().join() !== [...b.keys()].sort().join()) return Infinity;
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    if (x.length !== y.length) return Infinity;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / Math.max(1e-6, Math.abs(y[i]!)));
  }
  return worst;
}
