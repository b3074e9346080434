// Checkpoints in Hugging Face format plus what an exact resume needs:
//   step-000120/ model.safetensors, config.json, tokenizer files   (transformers loads this)
//                optimizer.safetensors                             (AdamW moments and step counts)
//                trainer_state.json                                (step, epoch position, tokens, config digest)
// A checkpoint directory is built under a temporary name and renamed into place.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CausalLM } from '../model/causal_lm.js';
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

export async function saveCheckpoint(dir: string, model: CausalLM, trainer: NativeTrainer, state: TrainerState): Promise<void> {
  await writeDirAtomic(dir, async (tmp) => {
    // float32: the master weights themselves, so that a resume continues bit-for-bit.
    await model.save(tmp, { dtype: 'float32' });
    await trainer.saveOptimizerState(path.join(tmp, 'optimizer.safetensors'));
    writeFileAtomic(path.join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 2) + '\n');
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

/** The newest complete checkpoint of a run directory, if any. */
export function latestCheckpoint(runDir: string): string | undefined {
  const root = path.join(runDir, 'checkpoints');
  if (!existsSync(root)) return undefined;
  const names = readdirSync(root)
    .filter((n) => /^step-\d+$/.test(n) && existsSync(path.join(root, n, 'trainer_state.json')))
    .sort();
  const last = names.at(-1);
  return last ? path.join(root, last) : undefined;
}
