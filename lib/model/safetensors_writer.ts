// Writes a .safetensors file (8-byte little-endian header length, JSON header, raw data)
// atomically. For weights made in TypeScript (the demo's from-scratch model, GGUF import);
// the native core reads safetensors by memory-mapping.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { atomicTemporaryPattern, removeAbandonedTemporaries } from '../util/abandoned_temporaries.js';
import { fsyncDir } from '../util/atomic_write.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';

export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Uint16Array | BigInt64Array | Int32Array;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };

/** Writes the tensors (sorted by name) atomically; one header layout for all writers (see below). */
export function writeSafetensors(file: string, tensors: Map<string, SafetensorsEntry>, metadata?: Record<string, string>): void {
  const entries = [...tensors.keys()].sort().map((name): StreamedSafetensorsEntry => {
    const t = tensors.get(name)!;
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new RangeError(`tensor '${name}': shape [${t.shape}] needs ${numel} values, got ${t.data.length}`);
    if (numel * BYTES[t.dtype] !== t.data.byteLength)
      throw new TypeError(`tensor '${name}': ${t.dtype} data must be ${numel * BYTES[t.dtype]} bytes, got ${t.data.byteLength}`);
    return { name, dtype: t.dtype, shape: t.shape, produce: () => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
  });
  writeSafetensorsStreamed(file, entries, metadata);
}

/** A tensor whose bytes are produced only when it is written (see `writeSafetensorsStreamed`). */
export interface StreamedSafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** The tensor's row-major bytes. */
  produce: () => Uint8Array;
}

/**
 * Like `writeSafetensors`, but tensor by tensor, in the given order, so a multi-GiB model (GGUF import)
 * is never held in memory whole. Temp file beside the target, fsync, rename.
 */
export function writeSafetensorsStreamed(
  file: string,
  entries: readonly StreamedSafetensorsEntry[],
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const sizes: number[] = [];
  for (const e of entries) {
    if (e.name in header) throw new Error(`safetensors: duplicate tensor name ${e.name}`);
    const size = e.shape.reduce((a, b) => a * b, 1) * BYTES[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + size] };
    sizes.push(size);
    offset += size;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  removeAbandonedTemporaries(path.dirname(file), atomicTemporaryPattern(file));
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, headerBytes);
    entries.forEach((e, i) => {
      const bytes = e.produce();
      if (bytes.byteLength !== sizes[i]) {
        throw new Error(`safetensors: ${e.name} produced ${bytes.byteLength} bytes; shape [${e.shape}] × ${e.dtype} needs ${sizes[i]}`);
      }
      for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done);
    });
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}
