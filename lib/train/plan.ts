// `train --dry-run`: what a run with these settings would need on each rank, from its tokenized
// pairs and the model's shapes, without training or writing anything.
import { loadNative } from '../native/load.js';
import { lossSpec, type TrainConfigInput } from './config.js';
import { rankEnv } from './data_parallel.js';
import { planMemory, type MemoryPlan } from './memory_plan.js';
import { memoryPlanSettings } from './plan_settings.js';
import { resolveRun } from './run_directory.js';
import { loadRunData, setUpRunDevice, zeroStage } from './run_data.js';

export interface PlanOptions {
  /** The ranks to plan for (`train --nproc N --dry-run`); default WORLD_SIZE, else 1. */
  ranks?: number;
  log?: (message: string) => void;
}

/** Loads and tokenizes the data and returns the memory plan of the run `input` describes. */
export async function planTraining(input: TrainConfigInput & { resume?: string }, opts: PlanOptions = {}): Promise<MemoryPlan> {
  const ranks = rankEnv();
  const main = !ranks || ranks.rank === 0;
  const log = !main ? () => {} : (opts.log ?? ((m: string) => process.stderr.write(`${m}\n`)));
  const { config } = resolveRun(input, log);
  const native = loadNative();
  const { dtypeDecision } = setUpRunDevice(native, config, ranks, log);
  const { modelDir, data } = await loadRunData(config, log);
  const spec = lossSpec(config.loss);
  const settings = memoryPlanSettings(
    config,
    data.train,
    { rejected: spec.needsRejected, rationale: spec.needsRationale, reference: spec.needsReference },
    { ranks: opts.ranks ?? ranks?.worldSize ?? 1, zero: zeroStage(config) === 1 },
    dtypeDecision.dtype,
  );
  return planMemory(modelDir, settings, native.runtimeInfo().devices);
}
