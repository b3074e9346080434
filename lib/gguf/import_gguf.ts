// GGUF (llama, qwen2, qwen3, gemma2, gemma3, phi3) → a Hugging Face model directory: model.safetensors
// (dequantized to bf16 or f32, HF names, llama's Q/K rotary permutation and Gemma's 1 + w norms
// undone; see architectures.ts), config.json, tokenizer.json,
// tokenizer_config.json, generation_config.json. The directory appears whole or not at all.
import { closeSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeDirAtomic } from '../util/atomic_write.js';
import { assertReplaceableDir, outputMarkerKind, writeOutputMarker } from '../util/output_marker.js';
import { readSafetensorsHeader } from '../model/safetensors_header.js';
import { dequantize } from './dequantize.js';
import { architectureOf, hfConfig, hfTensorName, isConfigTensor, modelDims, normShift, permutesRotaryRows } from './architectures.js';
import { unpermuteRotaryRows } from './rotary_permutation.js';
import { GgufFormatError, readGguf, readTensorBytes, type GgufFile, type GgufTensorInfo } from './reader.js';
import { writeSafetensorsStreamed, type StreamedSafetensorsEntry } from '../model/safetensors_writer.js';
import { encodeFloats } from './bf16.js';
import { configJson } from './config_json.js';
import { rebuildTokenizer } from './tokenizer_rebuild.js';

export type ImportDtype = 'bf16' | 'f32';

export interface ImportGgufOptions {
  dtype?: ImportDtype;
  /** Called after each tensor is written. */
  onTensor?: (done: number, total: number, name: string) => void;
}

export interface ImportGgufReport {
  outDir: string;
  ggufVersion: number;
  /** llama.cpp's general.architecture and the Hugging Face model_type it became. */
  architecture: string;
  modelType: string;
  /** Tensor count per GGML type in the source file. */
  sourceTypes: Record<string, number>;
  tensors: number;
  parameters: number;
  dtype: ImportDtype;
  tiedEmbeddings: boolean;
  seconds: number;
}

/** Dequantize one GGUF tensor to float32 in Hugging Face layout (llama's rotary rows un-permuted, Gemma's norm offset removed). */
export function tensorToHf(file: GgufFile, t: GgufTensorInfo, fd?: number): { name: string; shape: number[]; data: Float32Array } {
  const arch = architectureOf(file);
  const name = hfTensorName(t.name, arch);
  let data = dequantize(t.type, readTensorBytes(file, t, fd), t.nElements);
  const shape = [...t.dims].reverse();
  const shift = normShift(arch, t.name);
  if (shift) for (let i = 0; i < data.length; i++) data[i] = data[i]! - shift;
  const rotary = /\.attn_(q|k)\.(weight|bias)$/.exec(t.name);
  if (rotary && permutesRotaryRows(arch)) {
    const dims = modelDims(file);
    const heads = rotary[1] === 'q' ? dims.nHead : dims.nHeadKv;
    const rows = shape[0]!;
    data = unpermuteRotaryRows(data, rows, data.length / rows, heads);
  }
  return { name, shape, data };
}

/**
 * Whether `dir` is a model directory import-gguf (or merge-lora) wrote: its marker, or (directories
 * imported before the marker existed) a model.safetensors whose metadata says it came from a GGUF.
 */
export function isImportedModelDir(dir: string): boolean {
  if (outputMarkerKind(dir) === 'model') return true;
  try {
    const meta = readSafetensorsHeader(path.join(dir, 'model.safetensors')).entries.__metadata__ as unknown as Record<string, unknown> | undefined;
    return meta?.source === 'gguf';
  } catch {
    return false;
  }
}

export async function importGguf(ggufPath: string, outDir: string, opts: ImportGgufOptions = {}): Promise<ImportGgufReport> {
  const started = performance.now();
  // Replaced whole below: only an empty directory or one this tool wrote.
  assertReplaceableDir(outDir, '--out', 'model directory', isImportedModelDir);
  const dtype = opts.dtype ?? 'bf16';
  const file = readGguf(ggufPath);
  const arch = modelDims(file).arch; // architecture and head counts checked before any work
  const tok = rebuildTokenizer(file);
  const config = hfConfig(file, dtype === 'bf16' ? 'bfloat16' : 'float32', (name) => {
    const t = file.tensors.find((x) => x.name === name)!;
    return dequantize(t.type, readTensorBytes(file, t), t.nElements);
  });
  const weights = file.tensors.filter((t) => !isConfigTensor(arch, t.name));
  const sourceTypes: Record<string, number> = {};
  for (const t of file.tensors) sourceTypes[t.typeInfo.name] = (sourceTypes[t.typeInfo.name] ?? 0) + 1;
  const names = new Set<string>();
  for (const t of weights) {
    const n = hfTensorName(t.name, arch);
    if (names.has(n)) throw new GgufFormatError(`${ggufPath}: two tensors map to ${n}`);
    names.add(n);
  }

  await writeDirAtomic(outDir, async (tmp) => {
    const fd = openSync(ggufPath, 'r');
    try {
      let done = 0;
      const entries: StreamedSafetensorsEntry[] = weights.map((t) => ({
        name: hfTensorName(t.name, arch),
        dtype: dtype === 'bf16' ? 'BF16' : 'F32',
        shape: [...t.dims].reverse(),
        produce: () => {
          const hf = tensorToHf(file, t, fd);
          const bad = hf.data.findIndex((v) => !Number.isFinite(v));
          if (bad >= 0)
            throw new GgufFormatError(
              `${ggufPath}: tensor ${t.name} holds ${hf.data[bad]} at element ${bad}; a model with NaN or infinite weights is not imported`,
            );
          const bytes = encodeFloats(hf.data, dtype === 'bf16' ? 'BF16' : 'F32');
          opts.onTensor?.(++done, weights.length, hf.name);
          return bytes;
        },
      }));
      writeSafetensorsStreamed(path.join(tmp, 'model.safetensors'), entries, { format: 'pt', source: 'gguf', source_file: path.basename(ggufPath) });
    } finally {
      closeSync(fd);
    }
    const json = (name: string, v: unknown) => writeFileSync(path.join(tmp, name), JSON.stringify(v, null, 2) + '\n');
    writeFileSync(path.join(tmp, 'config.json'), configJson(config));
    writeFileSync(path.join(tmp, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson));
    json('tokenizer_config.json', tok.tokenizerConfig);
    json('generation_config.json', tok.generationConfig);
    writeOutputMarker(tmp, 'model', 'import-gguf');
  });
  return {
    outDir,
    ggufVersion: file.version,
    sourceTypes,
    architecture: arch,
    modelType: String(config.model_type),
    tensors: weights.length,
    parameters: weights.reduce((a, t) => a + t.nElements, 0),
    dtype,
    tiedEmbeddings: config.tie_word_embeddings === true,
    seconds: (performance.now() - started) / 1000,
  };
}
