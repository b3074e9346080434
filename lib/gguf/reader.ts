// GGUF (llama.cpp's model file) reader: header, metadata key/values of every type, tensor infos,
// alignment. Versions 2 and 3, little-endian. The header is read in chunks through a file
// descriptor, so multi-GiB files are never loaded whole; tensor data is read one tensor at a time.
// Layout: "GGUF" u32 version, u64 tensor count, u64 kv count, kvs, tensor infos, padding to
// `general.alignment` (default 32), tensor data (each tensor's offset is relative to the data start).
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { GGML_TYPES, type GgmlTypeInfo } from './ggml_types.js';

export class GgufFormatError extends Error {
  override name = 'GgufFormatError';
}

/** GGUF metadata value types (the u32 written before each value). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** 64-bit integers are numbers when exact (≤ 2^53), bigint otherwise. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** GGML order: dims[0] is the contiguous (fastest) one. The PyTorch shape is the reverse. */
  dims: number[];
  type: number;
  typeInfo: GgmlTypeInfo;
  /** Offset from the start of the data section. */
  offset: number;
  nElements: number;
  nBytes: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset of the tensor data section. */
  dataOffset: number;
  fileSize: number;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const CHUNK = 1 << 20;

/** A forward-only reader over a file descriptor, refilling a buffer as the header is parsed. */
class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0; // file offset of buf[0]
  pos = 0; // file offset of the next byte
  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly path: string,
  ) {}

  private ensure(n: number): number {
    const rel = this.pos - this.bufStart;
    if (rel + n <= this.buf.length) return rel;
    if (this.pos + n > this.size) {
      throw new GgufFormatError(`${this.path}: truncated header (wanted ${n} bytes at offset ${this.pos}, file has ${this.size})`);
    }
    const len = Math.max(n, CHUNK);
    const next = Buffer.alloc(Math.min(len, this.size - this.pos));
    readSync(this.fd, next, 0, next.length, this.pos);
    this.buf = next;
    this.bufStart = this.pos;
    return 0;
  }
  u8(): number {
    const r = this.ensure(1);
    this.pos += 1;
    return this.buf.readUInt8(r);
  }
  i8(): number {
    const r = this.ensure(1);
    this.pos += 1;
    return this.buf.readInt8(r);
  }
  u16(): number {
    const r = this.ensure(2);
    this.pos += 2;
    return this.buf.readUInt16LE(r);
  }
  i16(): number {
    const r = this.ensure(2);
    this.pos += 2;
    return this.buf.readInt16LE(r);
  }
  u32(): number {
    const r = this.ensure(4);
    this.pos += 4;
    return this.buf.readUInt32LE(r);
  }
  i32(): number {
    const r = this.ensure(4);
    this.pos += 4;
    return this.buf.readInt32LE(r);
  }
  /** A float32 as the shortest decimal that reads back as the same float32 (1e-6, not 9.99999997e-7), as the converter's source config spelled it. */
  f32(): number {
    const r = this.ensure(4);
    this.pos += 4;
    const x = this.buf.readFloatLE(r);
    if (!Number.isFinite(x)) return x;
    for (let p = 1; p < 9; p++) {
      const y = Number(x.toPrecision(p));
      if (Math.fround(y) === x) return y;
    }
    return x;
  }
  f64(): number {
    const r = this.ensure(8);
    this.pos += 8;
    return this.buf.readDoubleLE(r);
  }
  u64(): number | bigint {
    const r = this.ensure(8);
    this.pos += 8;
    const v = this.buf.readBigUInt64LE(r);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(): number | bigint {
    const r = this.ensure(8);
    this.pos += 8;
    const v = this.buf.readBigInt64LE(r);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  /** A count/length: must be an exact number and plausible for the file size. */
  count(what: string): number {
    const v = this.u64();
    if (typeof v === 'bigint' || v > this.size) throw new GgufFormatError(`${this.path}: implausible ${what} ${v} at offset ${this.pos - 8}`);
    return v;
  }
  str(): string {
    const n = this.count('string length');
    const r = this.ensure(n);
    this.pos += n;
    return this.buf.toString('utf8', r, r + n);
  }
}

function readValue(c: Cursor, type: number, key: string, path: string): GgufValue {
  switch (type) {
    case GgufValueType.UINT8:
      return c.u8();
    case GgufValueType.INT8:
      return c.i8();
    case GgufValueType.UINT16:
      return c.u16();
    case GgufValueType.INT16:
      return c.i16();
    case GgufValueType.UINT32:
      return c.u32();
    case GgufValueType.INT32:
      return c.i32();
    case GgufValueType.FLOAT32:
      return c.f32();
    case GgufValueType.BOOL:
      return c.u8() !== 0;
    case GgufValueType.STRING:
      return c.str();
    case GgufValueType.UINT64:
      return c.u64();
    case GgufValueType.INT64:
      return c.i64();
    case GgufValueType.FLOAT64:
      return c.f64();
    case GgufValueType.ARRAY: {
      const itemType = c.u32();
      const n = c.count(`array length of ${key}`);
      const out: GgufValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, itemType, key, path);
      return out;
    }
    default:
      throw new GgufFormatError(`${path}: metadata key ${JSON.stringify(key)} has unknown value type ${type}`);
  }
}

/** Parse a GGUF file's header (metadata and tensor infos); tensor data stays on disk. */
export function readGguf(path: string): GgufFile {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const c = new Cursor(fd, fileSize, path);
    const magic = c.u32();
    if (magic !== MAGIC) throw new GgufFormatError(`${path} is not a GGUF file (magic 0x${magic.toString(16)}, expected "GGUF")`);
    const version = c.u32();
    if (version !== 2 && version !== 3) {
      const hint =
        version > 0xffff
          ? ' (a big-endian file? only little-endian GGUF is supported)'
          : version === 1
            ? ' (GGUF v1 is obsolete; re-convert with a current llama.cpp)'
            : '';
      throw new GgufFormatError(`${path}: GGUF version ${version} is not supported, only 2 and 3${hint}`);
    }
    const tensorCount = c.count('tensor count');
    const kvCount = c.count('metadata count');
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = c.str();
      const type = c.u32();
      metadata.set(key, readValue(c, type, key, path));
    }
    const alignRaw = metadata.get('general.alignment') ?? 32;
    if (typeof alignRaw !== 'number' || alignRaw < 1 || (alignRaw & (alignRaw - 1)) !== 0) {
      throw new GgufFormatError(`${path}: general.alignment must be a power of two, got ${String(alignRaw)}`);
    }
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = c.str();
      const nDims = c.u32();
      if (nDims < 1 || nDims > 4) throw new GgufFormatError(`${path}: tensor ${name} has ${nDims} dimensions (1–4 allowed)`);
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(c.count(`dimension of ${name}`));
      const type = c.u32();
      const offset = c.count(`offset of ${name}`);
      const typeInfo = GGML_TYPES.get(type);
      if (!typeInfo) throw new GgufFormatError(`${path}: tensor ${name} has unknown GGML type ${type}`);
      const nElements = dims.reduce((a, b) => a * b, 1);
      if (dims[0]! % typeInfo.blockSize !== 0) {
        throw new GgufFormatError(`${path}: tensor ${name}: row length ${dims[0]} is not a multiple of the ${typeInfo.name} block size ${typeInfo.blockSize}`);
      }
      tensors.push({ name, dims, type, typeInfo, offset, nElements, nBytes: (nElements / typeInfo.blockSize) * typeInfo.blockBytes });
    }
    const dataOffset = Math.ceil(c.pos / alignRaw) * alignRaw;
    for (const t of tensors) {
      if (t.offset % alignRaw !== 0) throw new GgufFormatError(`${path}: tensor ${t.name} offset ${t.offset} is not aligned to ${alignRaw}`);
      if (dataOffset + t.offset + t.nBytes > fileSize) {
        throw new GgufFormatError(
          `${path}: tensor ${t.name} (${t.nBytes} bytes at ${dataOffset + t.offset}) runs past the end of the file (${fileSize} bytes); the file is truncated`,
        );
      }
    }
    return { path, version, metadata, tensors, alignment: alignRaw, dataOffset, fileSize };
  } finally {
    closeSync(fd);
  }
}

/** The raw bytes of one tensor. */
export function readTensorBytes(file: GgufFile, tensor: GgufTensorInfo, fd?: number): Uint8Array {
  const own = fd === undefined;
  const handle = fd ?? openSync(file.path, 'r');
  try {
    const out = Buffer.alloc(tensor.nBytes);
    let done = 0;
    while (done < out.length) {
      const n = readSync(handle, out, done, out.length - done, file.dataOffset + tensor.offset + done);
      if (n === 0) throw new GgufFormatError(`${file.path}: unexpected end of file reading ${tensor.name}`);
      done += n;
    }
    return out;
  } finally {
    if (own) closeSync(handle);
  }
}

/** A metadata value with a type check, for clear errors on malformed files. */
export function metaNumber(file: GgufFile, key: string): number | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw new GgufFormatError(`${file.path}: metadata ${key} should be a number, got ${typeof v}`);
  return v;
}

export function metaString(file: GgufFile, key: string): string | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new GgufFormatError(`${file.path}: metadata ${key} should be a string, got ${typeof v}`);
  return v;
}
