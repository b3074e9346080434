// The evaluation's one door to the native model: load a model directory with its tokenizer, score
// packed sequences, continue prompts. Everything else in lib/eval works on token ids and text.
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { CausalLM } from '../model/causal_lm.js';
import { loadAdapter } from '../model/lora.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import type { PackedBatch } from '../model/packing.js';

export interface LoadedModel {
  /** The directory's base name, for reports. */
  name: string;
  dir: string;
  lm: CausalLM;
  tokenizer: Tokenizer;
}

export interface ModelLoadOptions {
  dtype?: 'float32' | 'bfloat16';
  device?: string;
}

/** `adapter`: a PEFT LoRA adapter directory put on the model (model/lora.ts). */
export async function loadModel(dir: string, options: ModelLoadOptions = {}, adapter?: string): Promise<LoadedModel> {
  for (const file of ['config.json', 'tokenizer.json']) {
    if (!existsSync(join(dir, file))) {
      throw new UsageError(`${dir} is not a model directory: ${file} is missing (expected config.json, *.safetensors and the tokenizer files)`);
    }
  }
  const tokenizer = Tokenizer.load(dir);
  const lm = await CausalLM.load(dir, {
    ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
    ...(options.device !== undefined ? { device: options.device } : {}),
  });
  if (adapter !== undefined) {
    try {
      await loadAdapter(lm, adapter);
    } catch (err) {
      lm.dispose();
      throw new UsageError(`--adapter ${adapter}: ${(err as Error).message}`);
    }
  }
  const name = basename(resolve(dir)) + (adapter !== undefined ? `+${basename(resolve(adapter))}` : '');
  return { name, dir, lm, tokenizer };
}

/** Summed log-probabilities of each scored sequence of a packed batch (float64 copies). */
export async function sequenceSums(lm: CausalLM, batch: PackedBatch): Promise<Float64Array> {
  const out = await lm.sequenceLogprobs(batch);
  return Float64Array.from(out.sum);
}
