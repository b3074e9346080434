// LoRA adapters in PEFT's format on a CausalLM (native/core/model/lora/lora.h; docs/lora.md): attach a fresh
// adapter, load one PEFT (or rdpo-native) wrote, save one PEFT loads, merge one into the base.
import { access, copyFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { firstNonFiniteTensor } from './safetensors_finite.js';
import type { NativeLoraInfo } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import { CausalLM, COMPANION_FILES, type LoadOptions, type ModelDtype } from './causal_lm.js';

export type LoraInfo = NativeLoraInfo;

export interface LoraOptions {
  r: number;
  /** Default r (scaling alpha / r = 1). */
  alpha?: number;
  dropout?: number;
  /** 'all-linear' (every linear layer but the LM head; the default) or module names / suffixes. */
  targets?: 'all-linear' | string[];
  /** rsLoRA scaling alpha / sqrt(r). */
  useRslora?: boolean;
  /** Seeds A's initialisation. */
  seed?: number;
}

/** "all-linear" or "q_proj,k_proj,…" → the native target list. */
export function parseLoraTargets(text: string): string[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new RangeError(`LoRA targets: "${text}" names no module (use all-linear or e.g. q_proj,v_proj)`);
  if (names.includes('all-linear') && names.length > 1) throw new RangeError('LoRA targets: all-linear cannot be combined with module names');
  return names;
}

/** A fresh adapter (A kaiming-uniform, B zero: the model's outputs are unchanged) on the model; freezes the base. */
export function attachLora(model: CausalLM, opts: LoraOptions): Promise<LoraInfo> {
  const targets = opts.targets === undefined || opts.targets === 'all-linear' ? ['all-linear'] : opts.targets;
  return loadNative().attachLora(model.nativeHandle, {
    r: opts.r,
    alpha: opts.alpha ?? opts.r,
    dropout: opts.dropout ?? 0,
    targets,
    useRslora: opts.useRslora ?? false,
    seed: opts.seed ?? 0,
  });
}

export function isAdapterDir(dir: string): boolean {
  return existsSync(path.join(dir, 'adapter_config.json'));
}

/** The base model an adapter directory names (adapter_config.json's base_model_name_or_path), if any. */
export function adapterBaseModel(dir: string): string | undefined {
  try {
    const c = JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')) as { base_model_name_or_path?: unknown };
    return typeof c.base_model_name_or_path === 'string' && c.base_model_name_or_path !== '' ? c.base_model_name_or_path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why an adapter directory cannot be used, or undefined: r a whole number >= 1, lora_alpha a finite
 * number, and every tensor of adapter_model.safetensors finite (a NaN lora_B would merge into NaN
 * weights; alpha 1e308 into infinite ones, which the merged model's own check catches).
 */
export function adapterDefect(dir: string): string | undefined {
  const file = path.join(dir, 'adapter_config.json');
  let c: { r?: unknown; lora_alpha?: unknown };
  try {
    c = JSON.parse(readFileSync(file, 'utf8')) as typeof c;
  } catch (err) {
    return `${file}: ${(err as Error).message}`;
  }
  if (typeof c.r !== 'number' || !Number.isInteger(c.r) || c.r < 1) return `${file}: "r" must be a whole number >= 1, got ${JSON.stringify(c.r)}`;
  if (c.lora_alpha !== undefined && (typeof c.lora_alpha !== 'number' || !Number.isFinite(c.lora_alpha))) {
    return `${file}: "lora_alpha" must be a finite number, got ${JSON.stringify(c.lora_alpha)}`;
  }
  const weights = path.join(dir, 'adapter_model.safetensors');
  if (existsSync(weights)) {
    const bad = firstNonFiniteTensor(weights);
    if (bad) return `${weights}: tensor ${bad.tensor} holds a NaN or an infinity (element ${bad.index})`;
  }
  return undefined;
}

/** Reads a PEFT adapter directory onto the model (replacing any adapter it had); freezes the base. */
export function loadAdapter(model: CausalLM, dir: string): Promise<LoraInfo> {
  if (!isAdapterDir(dir)) throw new Error(`${dir} is not a LoRA adapter directory: adapter_config.json is missing`);
  const defect = adapterDefect(dir);
  if (defect) throw new Error(`${dir} is not a usable LoRA adapter: ${defect}`);
  return loadNative().loadLoraAdapter(model.nativeHandle, path.resolve(dir));
}

/** Loads `dir` and, when `adapterDir` is given, puts that adapter on it. */
export async function loadModelWithAdapter(dir: string, adapterDir: string | undefined, opts: LoadOptions = {}): Promise<CausalLM> {
  const model = await CausalLM.load(dir, opts);
  if (adapterDir === undefined) return model;
  try {
    await loadAdapter(model, adapterDir);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/**
 * adapter_config.json + adapter_model.safetensors (PEFT's names, float32) into dir, and the
 * tokenizer files from the base model's directory, so the directory is usable on its own.
 */
export async function saveAdapter(model: CausalLM, dir: string, opts: { baseModel?: string } = {}): Promise<void> {
  const target = path.resolve(dir);
  await loadNative().saveLoraAdapter(model.nativeHandle, target, opts.baseModel ?? model.sourceDir);
  for (const name of COMPANION_FILES) {
    const from = path.join(model.sourceDir, name);
    try {
      await access(from);
    } catch {
      continue;
    }
    await copyFile(from, path.join(target, name));
  }
}

/** Adds s·B·A into the base weights and drops the adapter: save() then writes a plain model. */
export function mergeAdapter(model: CausalLM): Promise<void> {
  return loadNative().mergeLora(model.nativeHandle);
}

/**
 * The dtype a checkpoint's floating weights are stored in (config.json's torch_dtype / dtype):
 * LoRA keeps the frozen base in it (bfloat16 for most released 7B checkpoints). float32 when unstated.
 */
export function checkpointDtype(dir: string): ModelDtype {
  try {
    const c = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { torch_dtype?: unknown; dtype?: unknown };
    const d = c.dtype ?? c.torch_dtype;
    if (d === 'bfloat16' || d === 'float16') return d;
  } catch {
    // load() reports a missing or broken config.json with the details
  }
  return 'float32';
}
