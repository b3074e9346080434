// The files that describe a directory of weights (a checkpoint or final/): trainer_state.json, with
// transformers' fields (log_history, global_step, …) beside the resume state, and the model card.
import path from 'node:path';
import type { TrainerState } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { readMetricsLog } from './metrics.js';
import { modelCard } from './model_card.js';
import { trlTrainerStateFields } from './trainer_state_trl.js';

export function weightsFiles(runDir: string, config: TrainConfig, state: TrainerState, o: { lora: boolean; stopped?: string }): Record<string, string> {
  const rows = readMetricsLog(path.join(runDir, 'metrics.jsonl'));
  const trainerState = { ...state, ...trlTrainerStateFields(rows, state, config) };
  return {
    'trainer_state.json': JSON.stringify(trainerState, null, 2) + '\n',
    'README.md': modelCard(runDir, config, { step: state.step, totalSteps: state.totalSteps, lora: o.lora, ...(o.stopped ? { stopped: o.stopped } : {}) }),
  };
}
