// GGML block formats → float32. Implemented: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and the
// K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (what Q4_K_M / Q5_K_M / Q6_K files are made of; llama-quantize stores
// rows whose length is not a multiple of 256 as Q5_0 / Q5_1 / Q8_0 instead). Block layouts (little-endian):
//   Q8_0 (32): f16 d, i8 q[32]                     x = d·q
//   Q4_0 (32): f16 d, u8 qs[16]                    x[j] = d·((qs[j] & 15) − 8), x[j+16] = d·((qs[j] >> 4) − 8)
//   Q4_1 (32): f16 d, f16 m, u8 qs[16]             x[j] = d·(qs[j] & 15) + m, x[j+16] = d·(qs[j] >> 4) + m
//   Q5_0 (32): f16 d, u32 qh, u8 qs[16]            as Q4_0 with bit j of qh as element j's fifth bit, minus 16
//   Q5_1 (32): f16 d, f16 m, u32 qh, u8 qs[16]     as Q4_1 with the fifth bit from qh
//   Q4_K (256): f16 d, f16 dmin, u8 scales[12], u8 qs[128]
//   Q5_K (256): f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
//       8 sub-blocks of 32 with a 6-bit scale s and 6-bit min m each (packed in `scales`, see
//       scaleMinK4); x = d·s·q − dmin·m, q the 4-bit (Q5_K: + 16·high bit) value. Each 64-element
//       chunk c reads 32 bytes of qs: low nibbles for sub-block 2c, high nibbles for 2c+1; Q5_K's
//       high bit of sub-block k is bit k of qh[l].
//   Q2_K (256): u8 scales[16], u8 qs[64], f16 d, f16 dmin
//       16 groups of 16, scale = low nibble, min = high nibble; element e (half h = e/128, shift
//       s = (e%128)/32, l = e%32) is (qs[32h + l] >> 2s) & 3; x = d·scale·q − dmin·min.
//   Q3_K (256): u8 hmask[32], u8 qs[64], u8 scales[12], f16 d
//       16 groups of 16 with 6-bit scales (low 4 bits: byte j%8, nibble j/8; high 2 bits: byte
//       8 + j%4, bits 2·(j/4)) minus 32; 2 low bits as Q2_K, minus 4 unless bit e/32 of hmask[e%32].
//   IQ4_NL (32): f16 d, u8 qs[16]                  as Q4_0 with the nibble looking up IQ4_VALUES, not q − 8
//   IQ4_XS (256): f16 d, u16 scales_h, u8 scales_l[4], u8 qs[128]
//       8 sub-blocks of 32 with 6-bit scales (low 4 bits: nibble ib%2 of scales_l[ib/2]; high 2 bits:
//       bits 2·ib of scales_h) minus 32; each sub-block's 16 bytes as IQ4_NL; x = d·scale·value.
//   Q6_K (256): u8 ql[128], u8 qh[64], i8 scales[16], f16 d
//       two halves of 128; in half h, chunk c (of 4×32) element l has low 4 bits from
//       ql[64h + 32·(c&1) + l] (c < 2: low nibble, else high) and high 2 bits (qh[32h + l] >> 2c) & 3;
//       x = d·scales[e/16]·(q − 32), e the element's index in the block.
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

// The 16 non-uniform levels of IQ4_NL / IQ4_XS (ggml's kvalues_iq4nl).
const IQ4_VALUES = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

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
      for (let _b = 0, o = 0, p = 0; o < n; _b++, o += 32, p += 34) {
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
  [
    'Q5_0',
    (src, n, out) => {
      const dv = view(src);
      for (let o = 0, p = 0; o < n; o += 32, p += 22) {
        const d = HALF[dv.getUint16(p, true)]!;
        const qh = dv.getUint32(p + 2, true);
        for (let j = 0; j < 16; j++) {
          const q = src[p + 6 + j]!;
          out[o + j] = d * (((q & 15) | (((qh >>> j) & 1) << 4)) - 16);
          out[o + j + 16] = d * (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16);
        }
      }
    },
  ],
  [
    'Q5_1',
    (src, n, out) => {
      const dv = view(src);
      for (let o = 0, p = 0; o < n; o += 32, p += 24) {
        const d = HALF[dv.getUint16(p, true)]!;
        const m = HALF[dv.getUint16(p + 2, true)]!;
        const qh = dv.getUint32(p + 4, true);
        for (let j = 0; j < 16; j++) {
          const q = src[p + 8 + j]!;
          // float32 product, then float32 sum, as the reference.
          out[o + j] = Math.fround(d * ((q & 15) | (((qh >>> j) & 1) << 4))) + m;
          out[o + j + 16] = Math.fround(d * ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4))) + m;
        }
      }
    },
  ],
  [
    'IQ4_NL',
    (src, n, out) => {
      const dv = view(src);
      for (let o = 0, p = 0; o < n; o += 32, p += 18) {
        const d = HALF[dv.getUint16(p, true)]!;
        for (let j = 0; j < 16; j++) {
          const q = src[p + 2 + j]!;
          out[o + j] = d * IQ4_VALUES[q & 15]!;
          out[o + j + 16] = d * IQ4_VALUES[q >> 4]!;
        }
      }
    },
  ],
  [
    'IQ4_XS',
    (src, n, out) => {
      const dv = view(src);
      for (let o = 0, p = 0; o < n; o += 256, p += 136) {
        const d = HALF[dv.getUint16(p, true)]!;
        const scalesH = dv.getUint16(p + 2, true);
        for (let ib = 0; ib < 8; ib++) {
          const ls = ((src[p + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 15) | (((scalesH >> (2 * ib)) & 3) << 4);
          const dl = Math.fround(d * (ls - 32));
          const qs = p + 8 + 16 * ib;
          for (let j = 0; j < 16; j++) {
            const q = src[qs + j]!;
            out[o + 32 * ib + j] = dl * IQ4_VALUES[q & 15]!;
            out[o + 32 * ib + j + 16] = dl * IQ4_VALUES[q >> 4]!;
          }
        }
      }
    },
  ],
  [
    'Q2_K',
    (src, n, out) => {
      const dv = view(src);
      for (let o = 0, p = 0; o < n; o += 256, p += 84) {
        const d = HALF[dv.getUint16(p + 80, true)]!;
        const dmin = HALF[dv.getUint16(p + 82, true)]!;
        for (let e = 0; e < 256; e++) {
          const sc = src[p + (e >> 4)]!;
          const q = (src[p + 16 + 32 * (e >> 7) + (e & 31)]! >> (2 * ((e >> 5) & 3))) & 3;
          out[o + e] = Math.fround(d * (sc & 15)) * q - Math.fround(dmin * (sc >> 4));
        }
      }
    },
  ],
  [
    'Q3_K',
    (src, n, out) => {
      const dv = view(src);
      for (let o = 0, p = 0; o < n; o += 256, p += 110) {
        const d = HALF[dv.getUint16(p + 108, true)]!;
        for (let e = 0; e < 256; e++) {
          const j = e >> 4;
          const low = (src[p + 96 + (j & 7)]! >> (4 * (j >> 3))) & 15;
          const high = (src[p + 96 + 8 + (j & 3)]! >> (2 * (j >> 2))) & 3;
          const scale = (low | (high << 4)) - 32;
          const q2 = (src[p + 32 + 32 * (e >> 7) + (e & 31)]! >> (2 * ((e >> 5) & 3))) & 3;
          const hbit = (src[p + (e & 31)]! >> (e >> 5)) & 1;
          out[o + e] = Math.fround(d * scale) * (q2 - (hbit ? 0 : 4));
        }
      }
    },
  ],
  ['Q4_K', (src, n, out) => kQuant(src, n, out, 144, false)],
  ['Q5_K', (src, n, out) => kQuant(src, n, out, 176, true)],
  [
    'Q6_K',
    (src, n, out) => {
      const dv = view(src);
      for (let o = 0, p = 0; o < n; o += 256, p += 210) {
        const d = HALF[dv.getUint16(p + 208, true)]!;
        for (let h = 0; h < 2; h++) {
          const ql = p + 64 * h;
          const qh = p + 128 + 32 * h;
          for (let c = 0; c < 4; c++) {
            const e0 = 128 * h + 32 * c;
            const lowBase = ql + 32 * (c & 1);
            const shift = c < 2 ? 0 : 4;
            for (let l = 0; l < 32; l++) {
              const e = e0 + l;
              const q = ((src[lowBase + l]! >> shift) & 15) | (((src[qh + l]! >> (2 * c)) & 3) << 4);
              // d·scale is exact in float32 (11 + 8 bits), as in the reference.
              out[o + e] = Math.fround(d * dv.getInt8(p + 192 + (e >> 4))) * (q - 32);
            }
          }
        }
      }
    },
  ],
]);

/** Sub-block j's 6-bit scale and min from a Q4_K/Q5_K `scales` field at `at`. */
function scaleMinK4(src: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [src[at + j]! & 63, src[at + j + 4]! & 63];
  const hi = src[at + j + 4]!;
  return [(hi & 15) | ((src[at + j - 4]! >> 6) << 4), (hi >> 4) | ((src[at + j]! >> 6) << 4)];
}

function kQuant(src: Uint8Array, n: number, out: Float32Array, blockBytes: number, fifthBit: boolean): void {
  const dv = view(src);
  const qsOff = fifthBit ? 48 : 16;
  for (let o = 0, p = 0; o < n; o += 256, p += blockBytes) {
    const d = HALF[dv.getUint16(p, true)]!;
    const dmin = HALF[dv.getUint16(p + 2, true)]!;
    for (let k = 0; k < 8; k++) {
      const [s, m] = scaleMinK4(src, p + 4, k);
      // float32 products as the reference computes them, then one float32 rounding of d·q − m.
      const dk = Math.fround(d * s);
      const mk = Math.fround(dmin * m);
      const qs = p + qsOff + 32 * (k >> 1);
      const shift = (k & 1) * 4;
      for (let l = 0; l < 32; l++) {
        let q = (src[qs + l]! >> shift) & 15;
        if (fifthBit) q |= ((src[p + 16 + l]! >> k) & 1) << 4;
        out[o + 32 * k + l] = Math.fround(dk * q) - mk;
      }
    }
  }
}

export const DEQUANTIZABLE_TYPES: readonly string[] = [...KERNELS.keys()];

/** Dequantize `n` elements of GGML type `type` from `src` into a new Float32Array. */
export function dequantize(type: number, src: Uint8Array, n: number): Float32Array {
  const info = GGML_TYPES.get(type);
  if (!info) throw new UnsupportedGgmlTypeError(`unknown GGML type ${type}`);
  const kernel = KERNELS.get(info.name);
  if (!kernel) {
    throw new UnsupportedGgmlTypeError(
      `GGML type ${info.name} cannot be dequantized yet (supported: ${DEQUANTIZABLE_TYPES.join(', ')}); re-quantize the model with one of those, e.g. llama-quantize --allow-requantize MODEL.gguf OUT.gguf Q8_0`,
    );
  }
  if (n % info.blockSize !== 0) throw new RangeError(`${n} elements is not a whole number of ${info.name} blocks of ${info.blockSize}`);
  const need = (n / info.blockSize) * info.blockBytes;
  if (src.byteLength < need) throw new RangeError(`${info.name}: ${n} elements need ${need} bytes, got ${src.byteLength}`);
  const out = new Float32Array(n);
  kernel(src, n, out);
  return out;
}
