// Whether a safetensors file's floating tensors are all finite, read straight from the bytes:
// a weight writer checks what it wrote (merge-lora, import-gguf) and an adapter is checked before
// it is merged, so that NaN or inf never reaches a model directory with exit code 0.
import { closeSync, openSync, readSync } from 'node:fs';
import { readSafetensorsHeader } from './safetensors_header.js';

// The exponent bits of each float format: all ones is an infinity or a NaN.
const EXPONENT: Record<string, { bytes: 2 | 4; mask: number }> = {
  F32: { bytes: 4, mask: 0x7f800000 },
  BF16: { bytes: 2, mask: 0x7f80 },
  F16: { bytes: 2, mask: 0x7c00 },
};

const CHUNK = 1 << 22;

/** The first tensor of `file` holding a NaN or an infinity, with the element's index, or undefined. */
export function firstNonFiniteTensor(file: string): { tensor: string; index: number } | undefined {
  const header = readSafetensorsHeader(file);
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(CHUNK);
    for (const [name, entry] of Object.entries(header.entries)) {
      const fmt = entry?.dtype !== undefined ? EXPONENT[entry.dtype] : undefined;
      if (name === '__metadata__' || !fmt || !Array.isArray(entry.data_offsets)) continue;
      const [start, end] = entry.data_offsets.map(Number) as [number, number];
      for (let at = start; at < end; at += CHUNK) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, end - at), 8 + header.headerLength + at);
        for (let i = 0; i + fmt.bytes <= n; i += fmt.bytes) {
          const bits = fmt.bytes === 4 ? buf.readUInt32LE(i) : buf.readUInt16LE(i);
          if ((bits & fmt.mask) === fmt.mask) return { tensor: name, index: (at - start + i) / fmt.bytes };
        }
      }
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
