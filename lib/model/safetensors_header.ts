// The tensor list of a Hugging Face model directory, read from the safetensors headers alone
// (model.safetensors, or every shard named by model.safetensors.index.json): names, dtypes and
// shapes without reading any weight bytes. The memory plan counts parameters from it.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** shard file the tensor lives in */
  file: string;
}

/** Bytes per element of the safetensors dtype names. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** A safetensors file's header: its length, the file's size and the parsed JSON (tensor entries and __metadata__). */
export interface SafetensorsHeader {
  size: number;
  headerLength: number;
  entries: Record<string, { dtype?: string; shape?: number[]; data_offsets?: [number, number] }>;
}

/** Reads the header alone; throws an Error that starts with the file's path and says what is wrong. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const lenBuf = Buffer.alloc(8);
    if (size < 8 || readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new Error(`${file}: ${size} bytes, too short to be a safetensors file`);
    const headerLength = Number(lenBuf.readBigUInt64LE(0));
    if (headerLength > size - 8 || headerLength > 100 * 1024 * 1024)
      throw new Error(`${file}: header length ${headerLength} is not plausible (file ${size} bytes); is it a safetensors file?`);
    const header = Buffer.alloc(headerLength);
    readSync(fd, header, 0, headerLength, 8);
    try {
      return { size, headerLength, entries: JSON.parse(header.toString('utf8')) as SafetensorsHeader['entries'] };
    } catch {
      throw new Error(`${file}: the safetensors header is not valid JSON`);
    }
  } finally {
    closeSync(fd);
  }
}

/** Every tensor of one safetensors file, in header order. */
export function readFileTensors(file: string): TensorEntry[] {
  const out: TensorEntry[] = [];
  for (const [name, entry] of Object.entries(readSafetensorsHeader(file).entries)) {
    if (name === '__metadata__') continue;
    if (typeof entry?.dtype !== 'string' || !Array.isArray(entry.shape)) throw new Error(`${file}: tensor "${name}" lacks dtype or shape`);
    out.push({ name, dtype: entry.dtype, shape: entry.shape.map(Number), file });
  }
  return out;
}

/** Every tensor of dir's weights (single file or sharded), in header order per shard. */
export function readModelTensors(dir: string): TensorEntry[] {
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  let files: string[];
  if (existsSync(single)) files = [single];
  else if (existsSync(index)) {
    let map: Record<string, string>;
    try {
      map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
    } catch (err) {
      throw new Error(`${index}: cannot read the shard index (${(err as Error).message})`);
    }
    if (!map || typeof map !== 'object') throw new Error(`${index}: no "weight_map" object`);
    files = [...new Set(Object.values(map))].sort().map((f) => path.join(dir, f));
  } else {
    throw new Error(
      `${dir}: neither model.safetensors nor model.safetensors.index.json; --model must be a Hugging Face model directory with safetensors weights`,
    );
  }
  return files.flatMap(readFileTensors);
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
