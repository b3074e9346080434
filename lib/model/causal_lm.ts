// A causal language model run by the native core: load a Hugging Face checkpoint directory
// (config.json + safetensors), score packed sequences, generate, save.
import { copyFile, access } from 'node:fs/promises';
import path from 'node:path';
import type { NativeDtype, NativeGenerateOptions, NativeModel, NativeModelConfig, NativeScoringOptions } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import type { PackedBatch } from './packing.js';

export type ModelDtype = 'float32' | 'bfloat16' | 'float16';
export type ModelConfig = NativeModelConfig;

export interface LoadOptions {
  /** Weights are converted to this dtype on load (default float32). */
  dtype?: ModelDtype;
  /** cpu (default), cuda, cuda:N or mps. */
  device?: string;
}

/** Sampling settings for generate (see NativeGenerateOptions for defaults). */
export type GenerateOptions = NativeGenerateOptions;

export interface SequenceLogprobs {
  /** Sum of log p(token) over each sequence's scored tokens. */
  sum: Float32Array;
  /** How many tokens each sequence scored. */
  count: Int32Array;
}

/** Files beside the weights that make a saved directory usable on its own. */
export const COMPANION_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'];

function toInt32(seqs: number[][], what: string): { tokens: Int32Array; lengths: Int32Array } {
  const lengths = new Int32Array(seqs.length);
  let total = 0;
  seqs.forEach((s, i) => {
    if (s.length === 0) throw new RangeError(`${what}: sequence ${i} is empty`);
    lengths[i] = s.length;
    total += s.length;
  });
  const tokens = new Int32Array(total);
  let at = 0;
  seqs.forEach((s, i) => {
    // Int32Array.set wraps 2^32 + 5 to 5 and NaN to 0 without a word: a wrong token, not an error.
    for (let t = 0; t < s.length; t++) {
      const id = s[t]!;
      if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
        throw new RangeError(`${what}: sequence ${i}, position ${t}: token id ${id} is not an integer in 0..2^31-1`);
      }
    }
    tokens.set(s, at);
    at += s.length;
  });
  return { tokens, lengths };
}

export class CausalLM {
  readonly config: ModelConfig;

  private constructor(
    private native: NativeModel | undefined,
    /** The directory the model was loaded from. */
    readonly sourceDir: string,
  ) {
    this.config = native!.config();
  }

  static async load(dir: string, opts: LoadOptions = {}): Promise<CausalLM> {
    const native = await loadNative().loadModel(path.resolve(dir), { dtype: opts.dtype ?? 'float32', device: opts.device ?? 'cpu' });
    return new CausalLM(native, path.resolve(dir));
  }

  /** The native model, for other native calls that compute with it (the trainer). */
  get nativeHandle(): NativeModel {
    return this.model;
  }

  private get model(): NativeModel {
    if (!this.native) throw new Error('this CausalLM was disposed');
    return this.native;
  }

  /** Logits of every position of each (independent) sequence: result[i][t] is a vocab-sized view. */
  async logits(seqs: number[][]): Promise<Float32Array[][]> {
    const { tokens, lengths } = toInt32(seqs, 'logits');
    const flat = await this.model.logits(tokens, lengths);
    const vocab = this.config.vocabSize;
    const out: Float32Array[][] = [];
    let row = 0;
    for (const s of seqs) {
      const rows: Float32Array[] = [];
      for (let t = 0; t < s.length; t++, row++) rows.push(flat.subarray(row * vocab, (row + 1) * vocab));
      out.push(rows);
    }
    return out;
  }

  /**
   * Summed log-probs of each scored sequence of a packed batch (see packing.ts), through training's
   * scoring path. The compute dtype defaults to the weights' own (a bfloat16 model computes as a
   * bf16 training run does: under autocast); a float32 model given a run's computeDtype and
   * logitsChunk gives the numbers that run's training saw.
   */
  sequenceLogprobs(packed: PackedBatch, options: NativeScoringOptions = {}): Promise<SequenceLogprobs> {
    return this.model.sequenceLogprobs(packed, { computeDtype: this.config.dtype as NativeDtype, ...options });
  }

  /** Continues each prompt; returns only the new tokens (ending with EOS when one was produced). */
  async generate(promptTokens: number[][], opts: GenerateOptions = {}): Promise<number[][]> {
    if (promptTokens.length === 0) return [];
    const { tokens, lengths } = toInt32(promptTokens, 'generate');
    const res = await this.model.generate(tokens, lengths, opts);
    const out: number[][] = [];
    let at = 0;
    for (const n of res.lengths) {
      out.push(Array.from(res.tokens.subarray(at, at + n)));
      at += n;
    }
    return out;
  }

  /**
   * Writes model.safetensors and config.json into dir (loadable by transformers), and copies the
   * tokenizer and generation files from the source directory when it has them.
   */
  async save(dir: string, opts: { dtype?: ModelDtype } = {}): Promise<void> {
    const target = path.resolve(dir);
    await this.model.save(target, (opts.dtype ?? this.config.dtype) as NativeDtype);
    if (target === this.sourceDir) return;
    for (const name of COMPANION_FILES) {
      const from = path.join(this.sourceDir, name);
      try {
        await access(from);
      } catch {
        continue;
      }
      await copyFile(from, path.join(target, name));
    }
  }

  /** Frees the weights (after any call in flight). Further calls throw. */
  dispose(): void {
    this.native?.dispose();
    this.native = undefined;
  }
}
