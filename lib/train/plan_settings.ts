// The memory plan's settings for a resolved training configuration and its tokenized pairs: the
// largest micro-batch any epoch can draw is the `batchSize` longest examples together, so the plan
// holds for every shuffle.
import type { ComputeDtype } from '../model/compute_dtype.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packedRows } from '../model/packing.js';
import { elementCount, readFileTensors } from '../model/safetensors_header.js';
import type { TrainConfig } from './config.js';
import type { MemoryPlanSettings } from './memory_plan.js';
import type { PreferenceExample } from './preference_batch.js';

/** Rows one example adds to a packed micro-batch, by the one packing rule (model/packing.ts). */
export function exampleRows(
  ex: PreferenceExample,
  parts: { rejected: boolean; rationale: boolean },
): { policy: number; reference: number; policyScored: number; referenceScored: number } {
  const completions = [ex.pair.chosenIds.length, ...(parts.rejected && ex.pair.rejectedIds ? [ex.pair.rejectedIds.length] : [])];
  const pair = packedRows(ex.pair.promptIds.length, completions);
  const rationaleIds = parts.rationale && ex.rationale ? ex.rationale.rationaleIds.length : 0;
  const rationale = rationaleIds > 0 ? packedRows(ex.rationale!.promptIds.length, [rationaleIds]) : 0;
  // Every completion token is scored (the output layer's rows).
  const pairScored = completions.reduce((a, b) => a + b, 0);
  return { policy: pair + rationale, reference: pair, policyScored: pairScored + rationaleIds, referenceScored: pairScored };
}

/** LoRA as the run will attach it: from the flags, or from the adapter it continues (adapter_config.json). */
function loraSettings(config: TrainConfig): MemoryPlanSettings['lora'] {
  const targetList = (t: string | string[] | undefined): 'all-linear' | string[] =>
    t === undefined || t === 'all-linear' ? 'all-linear' : Array.isArray(t) ? t : t.split(',').map((x) => x.trim());
  if (config.adapter) {
    const file = path.join(config.adapter, 'adapter_config.json');
    let a: { r?: unknown; target_modules?: unknown; lora_dropout?: unknown };
    try {
      a = JSON.parse(readFileSync(file, 'utf8')) as typeof a;
    } catch (err) {
      throw new Error(`${file}: cannot read the adapter's configuration (${(err as Error).message}); --adapter must be a PEFT adapter directory`);
    }
    if (typeof a.r !== 'number' || a.r <= 0) throw new Error(`${file}: "r" must be a positive number`);
    // The adapter's own tensors say exactly what trains (its target_modules may be a regular expression).
    const weights = path.join(config.adapter, 'adapter_model.safetensors');
    const tensors = readFileTensors(weights);
    const loraA = tensors.filter((t) => t.name.endsWith('.lora_A.weight'));
    const loraB = tensors.filter((t) => t.name.endsWith('.lora_B.weight'));
    if (loraA.length === 0 || loraA.length !== loraB.length)
      throw new Error(`${weights}: expected pairs of lora_A/lora_B weights (a PEFT LoRA adapter), found ${loraA.length} and ${loraB.length}`);
    const adapterParameters = { count: [...loraA, ...loraB].reduce((n, t) => n + elementCount(t.shape), 0), modules: loraA.length };
    return {
      r: a.r,
      targets: targetList(a.target_modules as string | string[] | undefined),
      adapterParameters,
      ...(typeof a.lora_dropout === 'number' && a.lora_dropout > 0 ? { dropout: a.lora_dropout } : {}),
    };
  }
  if (!config.loraR) return undefined;
  return { r: config.loraR, targets: targetList(config.loraTargets), ...(config.loraDropout ? { dropout: config.loraDropout } : {}) };
}

function largestSum(values: number[], k: number): number {
  return values
    .sort((a, b) => b - a)
    .slice(0, k)
    .reduce((a, b) => a + b, 0);
}

export function memoryPlanSettings(
  config: TrainConfig,
  examples: readonly PreferenceExample[],
  parts: { rejected: boolean; rationale: boolean; reference: boolean },
  dataParallel: { ranks: number; zero: boolean } = { ranks: 1, zero: false },
  computeDtype: ComputeDtype = config.dtype === 'bfloat16' ? 'bfloat16' : 'float32',
): MemoryPlanSettings {
  const rows = examples.map((ex) => exampleRows(ex, parts));
  // --batch-size is the global micro-batch: each rank takes ceil(batch / ranks) of its pairs.
  const perRank = Math.ceil(config.batchSize / dataParallel.ranks);
  const lora = loraSettings(config);
  return {
    computeDtype,
    device: config.device,
    gradientCheckpointing: config.gradientCheckpointing,
    rows: largestSum(
      rows.map((r) => r.policy),
      perRank,
    ),
    referenceRows: largestSum(
      rows.map((r) => r.reference),
      perRank,
    ),
    scoredRows: largestSum(
      rows.map((r) => r.policyScored),
      perRank,
    ),
    referenceScoredRows: largestSum(
      rows.map((r) => r.referenceScored),
      perRank,
    ),
    logitsChunk: config.logitsChunk,
    ...(lora ? { lora } : {}),
    ranks: dataParallel.ranks,
    zero: dataParallel.zero && dataParallel.ranks > 1 ? 1 : 0,
    gradAccum: config.gradAccum,
    reference: !parts.reference ? 'none' : lora ? 'adapters-off' : 'separate',
  };
}
