// llama.cpp's rotary row permutation of Q/K, applied by convert_hf_to_gguf to the `llama`
// architecture only (its rope kernel rotates adjacent pairs; the others use the half-split "NeoX"
// layout that Hugging Face uses, so their rows are stored as they are).
import { GgufFormatError } from './reader.js';

/**
 * Undo the permutation. convert_hf_to_gguf reorders each head's rows from HF's half-split layout
 * (first half of the head's dims, then second) to interleaved pairs: GGUF row h·d + 2j + s holds HF
 * row h·d + s·d/2 + j (d = head dim, s ∈ {0,1}). `data` is row-major [rows, cols].
 */
export function unpermuteRotaryRows(data: Float32Array, rows: number, cols: number, nHead: number): Float32Array {
  if (rows % nHead !== 0 || (rows / nHead) % 2 !== 0) throw new GgufFormatError(`cannot unpermute ${rows} rows into ${nHead} heads of even size`);
  const d = rows / nHead;
  const half = d / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < nHead; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const src = (h * d + 2 * j + s) * cols;
        const dst = (h * d + s * half + j) * cols;
        out.set(data.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}
