// The fields of transformers' TrainerState (trainer_callback.py) that tools reading TRL runs look
// for in trainer_state.json, beside this trainer's own (step, microBatches, …): log_history with
// one entry per logged step (`loss`, `rewards/margins`, …, `epoch`, `step`) and one per evaluation
// (`eval_loss`, `eval_rewards/margins`, …), global_step, max_steps, and the logging settings.
import type { TrainConfig } from './config.js';
import type { MetricsRow } from './metrics.js';

export type LogHistoryEntry = Record<string, number>;

/** One metrics.jsonl row as a log_history entry: eval rows' metrics get transformers' `eval_` prefix. */
export function logHistoryEntry(row: MetricsRow): LogHistoryEntry {
  const entry: LogHistoryEntry = {};
  for (const [key, value] of Object.entries(row)) {
    if (key === 'eval' || typeof value !== 'number') continue;
    entry[row.eval && key !== 'epoch' && key !== 'step' ? `eval_${key}` : key] = value;
  }
  return entry;
}

export function trlTrainerStateFields(
  rows: readonly MetricsRow[],
  at: { step: number; totalSteps: number; totalTokens: number },
  config: Pick<TrainConfig, 'evalEvery' | 'saveEvery' | 'batchSize' | 'epochs'>,
): Record<string, unknown> {
  const kept = rows.filter((r) => r.step <= at.step);
  const last = kept.at(-1);
  return {
    global_step: at.step,
    max_steps: at.totalSteps,
    epoch: last?.epoch ?? 0,
    num_train_epochs: config.epochs,
    logging_steps: 1,
    eval_steps: config.evalEvery,
    save_steps: config.saveEvery,
    train_batch_size: config.batchSize,
    num_input_tokens_seen: at.totalTokens,
    total_flos: 0,
    best_metric: null,
    best_model_checkpoint: null,
    is_local_process_zero: true,
    is_world_process_zero: true,
    is_hyper_param_search: false,
    trial_name: null,
    trial_params: null,
    log_history: kept.map(logHistoryEntry),
  };
}
