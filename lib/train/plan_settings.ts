// The memory plan's settings for a resolved training configuration and its tokenized pairs: the
// largest micro-batch any epoch can draw is the `batchSize` longest examples together, so the plan
// holds for every shuffle.
import { packedRows } from '../model/packing.js';
import type { TrainConfig } from './config.js';
import type { MemoryPlanSettings } from './memory_plan.js';
import type { PreferenceExample } from './preference_batch.js';

/** Rows one example adds to a packed micro-batch, by the one packing rule (model/packing.ts). */
export function exampleRows(ex: PreferenceExample, parts: { rejected: boolean; rationale: boolean }): { policy: number; reference: number } {
  const completions = [ex.pair.chosenIds.length, ...(parts.rejected && ex.pair.rejectedIds ? [ex.pair.rejectedIds.length] : [])];
  const pair = packedRows(ex.pair.promptIds.length, completions);
  const rationale = parts.rationale && ex.rationale ? packedRows(ex.rationale.promptIds.length, [ex.rationale.rationaleIds.length]) : 0;
  return { policy: pair + rationale, reference: pair };
}

function largestSum(values: number[], k: number): number {
  return values.sort((a, b) => b - a).slice(0, k).reduce((a, b) => a + b, 0);
}

export function memoryPlanSettings(
  config: TrainConfig,
  examples: readonly PreferenceExample[],
  parts: { rejected: boolean; rationale: boolean; reference: boolean },
): MemoryPlanSettings {
  const rows = examples.map((ex) => exampleRows(ex, parts));
  const c = config as TrainConfig & { loraR?: number; loraTargets?: string | string[]; loraDropout?: number; nproc?: number; zero?: number };
  const lora = c.loraR && c.loraR > 0
    ? {
        r: c.loraR,
        targets: c.loraTargets === undefined || c.loraTargets === 'all-linear' ? ('all-linear' as const) : Array.isArray(c.loraTargets) ? c.loraTargets : c.loraTargets.split(','),
        ...(c.loraDropout ? { dropout: c.loraDropout } : {}),
      }
    : undefined;
  return {
    computeDtype: config.dtype,
    device: config.device,
    gradientCheckpointing: config.gradientCheckpointing,
    rows: largestSum(rows.map((r) => r.policy), config.batchSize),
    referenceRows: largestSum(rows.map((r) => r.reference), config.batchSize),
    logitsChunk: config.logitsChunk,
    ...(lora ? { lora } : {}),
    ranks: c.nproc ?? 1,
    zero: c.zero === 1 ? 1 : 0,
    reference: !parts.reference ? 'none' : lora ? 'adapters-off' : 'separate',
  };
}
