// The one way a model directory is opened for inference (generate, serve, eval, the local rationale
// generator, the demo): check the files, load the tokenizer, then the weights. Options that change
// what is loaded (dtype, device, and later an adapter) are added here once.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { CausalLM, type ModelDtype } from '../model/causal_lm.js';
import { loadAdapter } from '../model/lora.js';
import { Tokenizer } from '../tokenize/tokenizer.js';

export const MODEL_DTYPES: readonly ModelDtype[] = ['float32', 'bfloat16', 'float16'];

export interface ModelLoadOptions {
  /** float32 (default), bfloat16 or float16; a string from the command line is checked here. */
  dtype?: ModelDtype | string;
  /** cpu (default), cuda, cuda:N or mps. */
  device?: string;
  /** A PEFT LoRA adapter directory put on the model (model/lora.ts, docs/lora.md). */
  adapter?: string;
}

export interface LoadedModel {
  /** The directory's base name, for reports and as the served model id. */
  name: string;
  dir: string;
  lm: CausalLM;
  tokenizer: Tokenizer;
  /** Longest prompt + completion the model takes, when config.json says. */
  maxContext?: number;
}

const isModelDtype = (v: string): v is ModelDtype => (MODEL_DTYPES as readonly string[]).includes(v);

/** The tokenizer of a model directory, after checking that the directory is one. */
export function loadModelTokenizer(dir: string): Tokenizer {
  for (const file of ['config.json', 'tokenizer.json']) {
    if (!existsSync(join(dir, file))) {
      throw new UsageError(`${dir} is not a model directory: ${file} is missing (expected config.json, *.safetensors and the tokenizer files)`);
    }
  }
  return Tokenizer.load(dir);
}

function contextLength(dir: string): number | undefined {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { max_position_embeddings?: unknown; n_positions?: unknown };
  return [config.max_position_embeddings, config.n_positions].find((v): v is number => typeof v === 'number');
}

/**
 * Loads a model directory. `check` sees the tokenizer before the weights are read, so that a
 * directory unfit for the caller (no EOS token, say) fails in milliseconds, not after the load.
 */
export async function loadModel(dir: string, options: ModelLoadOptions = {}, check?: (tokenizer: Tokenizer) => void): Promise<LoadedModel> {
  const tokenizer = loadModelTokenizer(dir);
  check?.(tokenizer);
  const dtype = options.dtype;
  if (dtype !== undefined && !isModelDtype(dtype)) throw new UsageError(`--dtype must be one of ${MODEL_DTYPES.join(', ')} (got "${dtype}")`);
  const maxContext = contextLength(dir);
  const lm = await CausalLM.load(dir, {
    ...(dtype !== undefined && isModelDtype(dtype) ? { dtype } : {}),
    ...(options.device !== undefined ? { device: options.device } : {}),
  });
  if (options.adapter !== undefined) {
    try {
      await loadAdapter(lm, options.adapter);
    } catch (err) {
      lm.dispose();
      throw new UsageError(`--adapter ${options.adapter}: ${(err as Error).message}`);
    }
  }
  const name = basename(resolve(dir)) + (options.adapter !== undefined ? `+${basename(resolve(options.adapter))}` : '');
  return { name, dir, lm, tokenizer, ...(maxContext !== undefined ? { maxContext } : {}) };
}
