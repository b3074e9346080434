// Checkpoints in Hugging Face format plus what an exact resume needs:
//   step-000120/ model.safetensors, config.json, tokenizer files   (transformers loads this)
//                optimizer.safetensors                             (AdamW moments and step counts)
//                trainer_state.json                                (step, epoch position, tokens, config digest)
// A LoRA run writes adapter_config.json + adapter_model.safetensors (PEFT) in place of the model.
// A checkpoint directory is built under a temporary name and renamed into place.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { CausalLM } from '../model/causal_lm.js';
import { readSafetensorsHeader, type SafetensorsHeader } from '../model/safetensors_header.js';
import type { NativeTrainer } from '../native/binding.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic_write.js';

export interface TrainerState {
  /** The prompt format the model was trained with (tokenize/prompt_format.ts); eval and generate read it. */
  promptFormat?: 'chat' | 'plain';
  /** Optimiser steps done. */
  step: number;
  totalSteps: number;
  /** Micro-batches consumed so far (the data position to continue from). */
  microBatches: number;
  totalTokens: number;
  configDigest: string;
  version: string;
  savedAt: string;
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/**
 * `saveWeights` replaces the model's save (a LoRA run writes its adapter: model/lora.ts). `files`:
 * more files by name (weights_files.ts: the model card, a trainer_state.json with TRL's fields).
 */
export async function saveCheckpoint(
  dir: string,
  model: CausalLM,
  trainer: NativeTrainer,
  state: TrainerState,
  saveWeights?: (dir: string) => Promise<void>,
  files: Record<string, string> = {},
): Promise<void> {
  await writeDirAtomic(dir, async (tmp) => {
    // float32: the master weights themselves, so that a resume continues bit-for-bit.
    if (saveWeights) await saveWeights(tmp);
    else await model.save(tmp, { dtype: 'float32' });
    await trainer.saveOptimizerState(path.join(tmp, 'optimizer.safetensors'));
    const all = { 'trainer_state.json': JSON.stringify(state, null, 2) + '\n', ...files };
    for (const [name, text] of Object.entries(all)) writeFileAtomic(path.join(tmp, name), text);
  });
}

export function readTrainerState(dir: string): TrainerState {
  const file = path.join(dir, 'trainer_state.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TrainerState;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Why a safetensors file cannot be whole, or undefined when it looks whole: the header parses and
 * the last tensor ends exactly at the end of the file (a torn copy or a truncated disk write does not).
 */
export function safetensorsDefect(file: string): string | undefined {
  if (!existsSync(file)) return 'missing';
  let header: SafetensorsHeader;
  try {
    header = readSafetensorsHeader(file);
  } catch (err) {
    return (err as Error).message.slice(file.length + 2); // the reason, without the path the caller names
  }
  let end = 0;
  for (const [name, entry] of Object.entries(header.entries)) {
    if (name !== '__metadata__' && Array.isArray(entry?.data_offsets)) end = Math.max(end, Number(entry.data_offsets[1]));
  }
  const needed = 8 + header.headerLength + end;
  if (needed !== header.size) return `the tensors need ${needed} bytes but the file has ${header.size} (truncated?)`;
  return undefined;
}

/** Why a checkpoint directory cannot be resumed from, or undefined when it can. */
export function checkpointDefect(dir: string): string | undefined {
  try {
    const state = JSON.parse(readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as Partial<TrainerState>;
    if (typeof state.step !== 'number' || typeof state.microBatches !== 'number') return 'trainer_state.json lacks step/microBatches';
  } catch (err) {
    return `trainer_state.json: ${(err as Error).message}`;
  }
  // A LoRA run's checkpoint holds the adapter instead of the model.
  const weights = existsSync(path.join(dir, 'adapter_config.json')) ? 'adapter_model.safetensors' : 'model.safetensors';
  for (const file of [weights, 'optimizer.safetensors']) {
    const defect = safetensorsDefect(path.join(dir, file));
    if (defect) return `${file}: ${defect}`;
  }
  return undefined;
}

/**
 * The newest checkpoint of a run directory that is whole, if any. A damaged newer one (a bad disk,
 * a hand edit) is reported through `warn` and skipped, so a resume falls back to the one before it.
 */
export function latestCheckpoint(runDir: string, warn?: (message: string) => void): string | undefined {
  const root = path.join(runDir, 'checkpoints');
  if (!existsSync(root)) return undefined;
  const names = readdirSync(root)
    .filter((n) => /^step-\d+$/.test(n))
    .sort()
    .reverse();
  for (const name of names) {
    const dir = path.join(root, name);
    const defect = checkpointDefect(dir);
    if (!defect) return dir;
    warn?.(`checkpoint ${dir} is damaged (${defect}); falling back to the previous one`);
  }
  return undefined;
}

/**
 * Removes what an interrupted atomic write left behind in a run directory: `.NAME.PID.tmp` and
 * `.NAME.PID.old` entries (util/atomic_write.ts) beside checkpoints, final/ and the run's files.
 */
export function removeStaleTemporaries(runDir: string): string[] {
  const removed: string[] = [];
  for (const dir of [runDir, path.join(runDir, 'checkpoints')]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (/^\..+\.\d+\.(tmp|old)$/.test(name)) {
        rmSync(path.join(dir, name), { recursive: true, force: true });
        removed.push(path.join(dir, name));
      }
    }
  }
  return removed;
}
