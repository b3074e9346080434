// What a run trains on, as both the plan and the training run read it: the device and compute dtype
// this rank uses, the model (a hub id resolved to its cache snapshot), the prompt format, and the
// tokenized training and held-out pairs.
import type { ComputeDtypeDecision } from '../model/compute_dtype.js';
import type { NativeBinding } from '../native/binding.js';
import { resolveModel } from '../hub/resolve_model.js';
import { resolvePromptFormat, type PromptFormat } from '../tokenize/prompt_format.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { lossSpec, type TrainConfig } from './config.js';
import { rankDevice, threadsPerRank, type RankEnv } from './data_parallel.js';
import { prepareTrainingData, type PreparedData } from './dataset.js';
import { resolveRunDtype } from './run_dtype.js';

export interface RunDevice {
  device: string;
  dtypeDecision: ComputeDtypeDecision;
}

/** This rank's threads, device and compute dtype (the dtype decision is said once in the log). */
export function setUpRunDevice(native: NativeBinding, config: TrainConfig, ranks: RankEnv | undefined, log: (m: string) => void): RunDevice {
  if (config.threads) native.setNumThreads(config.threads);
  else if (ranks && ranks.localWorldSize > 1) native.setNumThreads(threadsPerRank(ranks));
  // Data-parallel ranks on CUDA train on their own GPU (cuda:LOCAL_RANK) and all-reduce with NCCL.
  // config.device stays as given: it is part of the settings every rank must share.
  const device = ranks ? rankDevice(config.device, ranks) : config.device;
  return { device, dtypeDecision: resolveRunDtype(config.dtype, device, log) };
}

export interface RunData {
  /** The model's local directory (a hub id's cache snapshot); config.json keeps what was asked for. */
  modelDir: string;
  promptFormat: PromptFormat;
  data: PreparedData;
}

/**
 * Tokenizes the run's data. Sets `config.promptFormat` to the format it resolved, so resume, eval
 * and generation prompt the run the same way (config.json records it).
 */
export async function loadRunData(config: TrainConfig, log: (m: string) => void): Promise<RunData> {
  const { needsRationale } = lossSpec(config.loss);
  const modelDir = await resolveModel(config.model, { log });
  const tokenizer = Tokenizer.load(modelDir);
  const promptFormat: PromptFormat = resolvePromptFormat(tokenizer, config.promptFormat);
  config.promptFormat = promptFormat;
  const data = await prepareTrainingData(tokenizer, {
    data: config.data,
    ...(config.dataFormat ? { dataFormat: config.dataFormat } : {}),
    skipInvalid: config.skipInvalid,
    ...(config.limit ? { limit: config.limit } : {}),
    seed: config.seed,
    ...(config.evalSize ? { evalSize: config.evalSize } : {}),
    ...(config.evalFraction ? { evalFraction: config.evalFraction } : {}),
    maxLength: config.maxLength,
    maxPromptLength: config.maxPromptLength,
    rationale: needsRationale,
    promptFormat,
    truncationMode: config.truncationMode,
    sameAsRationaleArm: config.loss !== 'sft',
    warn: (m) => log(`warning: ${m}`),
    log,
  });
  if (data.tokenization.rationalesDropped > 0) {
    log(
      `${data.tokenization.rationalesDropped} pairs left out: their rationale row does not fit maxLength ${config.maxLength} ` +
        `(left out for every loss, so DPO and RDPO arms train on the same pairs)`,
    );
  }
  return { modelDir, promptFormat, data };
}

/** --zero, else RDPO_DDP_ZERO=1 (the switch that came first). */
export function zeroStage(config: TrainConfig): 0 | 1 {
  return config.zero ?? (process.env.RDPO_DDP_ZERO === '1' ? 1 : 0);
}
