// A streaming safetensors writer: u64 LE header length, JSON header (names → dtype, shape,
// data_offsets), padded with spaces to 8 bytes, then the tensors back to back. Each tensor's bytes are
// produced on demand, so a model is never held in memory whole. Written to a temp file, fsynced, renamed.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../util/atomic_write.js';

export type SafetensorsDtype = 'F32' | 'BF16';

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** The tensor's bytes (row-major), produced when it is written. */
  produce: () => Uint8Array;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, BF16: 2 };

/** float32 → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function floatToBf16(src: Float32Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Encode float32 data as `dtype` bytes. */
export function encodeTensor(data: Float32Array, dtype: SafetensorsDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const b = floatToBf16(data);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function writeSafetensors(file: string, entries: readonly SafetensorsEntry[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
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
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));

  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, headerBytes);
    entries.forEach((e, i) => {
      const bytes = e.produce();
      if (bytes.byteLength !== sizes[i]) {
        throw new Error(`safetensors: ${e.name} produced ${bytes.byteLength} bytes, its shape [${e.shape}] × ${e.dtype} needs ${sizes[i]}`);
      }
      let done = 0;
      while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
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
