// GGML block formats → float32. Implemented: F32, F16, BF16, Q8_0, Q4_0, Q4_1 (SmolLM2-135M-Instruct's
// Q4_1 file uses Q4_1, Q8_0 and F32). Block layouts (little-endian), 32 elements per block:
//   Q8_0: f16 d, i8 q[32]                     x = d·q
//   Q4_0: f16 d, u8 qs[16]                    x[j] = d·((qs[j] & 15) − 8), x[j+16] = d·((qs[j] >> 4) − 8)
//   Q4_1: f16 d, f16 m, u8 qs[16]             x[j] = d·(qs[j] & 15) + m, x[j+16] = d·(qs[j] >> 4) + m
import { GGML_TYPES } from './ggml_types.js';

export class UnsupportedGgmlTypeError extends Error {
  override name = 'UnsupportedGgmlTypeError';
}

/** IEEE half → float (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// All 65536 halves, so the hot loops are a table look-up.
const HALF = new Float32Array(65536);
for (let i = 0; i < 65536; i++) HALF[i] = halfToFloat(i);

type Dequant = (src: Uint8Array, n: number, out: Float32Array) => void;

const view = (src: Uint8Array) => new DataView(src.buffer, src.byteOffset, src.byteLength);

const KERNELS: ReadonlyMap<string, Dequant> = new Map<string, Dequant>([
  [
    'F32',
    (src, n, out) => {
      const dv = view(src);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
    },
  ],
  [
    'F16',
    (src, n, out) => {
      const dv = view(src);
      for (let i = 0; i < n; i++) out[i] = HALF[dv.getUint16(i * 2, true)]!;
    },
  ],
  [
    'BF16',
    (src, n, out) => {
      const dv = view(src);
      const u = new Uint32Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(i * 2, true) << 16;
    },
  ],
  [
    'Q8_0',
    (src, n, out) => {
      const dv = view(src);
      for (let b = 0, o = 0, p = 0; o < n; b++, o += 32, p += 34) {
        const d = HALF[dv.getUint16(p, true)]!;
        for (let j = 0; j < 32; j++) out[o + j] = d * dv.getInt8(p + 2 + j);
      }
    },
  ],
  [
    'Q4_0',
    (src, n, out) => {
      const dv = view(src);
      for (let o = 0, p = 0; o < n; o += 32, p += 18) {
        const d = HALF[dv.getUint16(p, true)]!;
        for (let j = 0; j < 16; j++) {
          const q = src[p + 2 + j]!;
          out[o + j] = d * ((q & 15) - 8);
          out[o + j + 16] = d * ((q >> 4) - 8);
        }
      }
    },
  ],
  [
    'Q4_1',
    (src, n, out) => {
      const dv = view(src);
      for (let o = 0, p = 0; o < n; o += 32, p += 20) {
        const d = HALF[dv.getUint16(p, true)]!;
        const m = HALF[dv.getUint16(p + 2, true)]!;
        for (let j = 0; j < 16; j++) {
          const q = src[p + 4 + j]!;
          out[o + j] = d * (q & 15) + m;
          out[o + j + 16] = d * (q >> 4) + m;
        }
      }
    },
  ],
]);

export const DEQUANTIZABLE_TYPES: readonly string[] = [...KERNELS.keys()];

/** Dequantize `n` elements of GGML type `type` from `src` into a new Float32Array. */
export function dequantize(type: number, src: Uint8Array, n: number): Float32Array {
  const info = GGML_TYPES.get(type);
  if (!info) throw new UnsupportedGgmlTypeError(`unknown GGML type ${type}`);
  const kernel = KERNELS.get(info.name);
  if (!kernel) {
    throw new UnsupportedGgmlTypeError(`GGML type ${info.name} cannot be dequantized yet (supported: ${DEQUANTIZABLE_TYPES.join(', ')}); re-quantize the model with one of those, e.g. llama-quantize --allow-requantize MODEL.gguf OUT.gguf Q8_0`);
  }
  if (n % info.blockSize !== 0) throw new RangeError(`${n} elements is not a whole number of ${info.name} blocks of ${info.blockSize}`);
  const need = (n / info.blockSize) * info.blockBytes;
  if (src.byteLength < need) throw new RangeError(`${info.name}: ${n} elements need ${need} bytes, got ${src.byteLength}`);
  const out = new Float32Array(n);
  kernel(src, n, out);
  return out;
}
