// float32 → the bytes of a safetensors dtype (F32 as is, BF16 rounded to nearest even).
export type FloatDtype = 'F32' | 'BF16';

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

export function encodeFloats(data: Float32Array, dtype: FloatDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const b = floatToBf16(data);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
