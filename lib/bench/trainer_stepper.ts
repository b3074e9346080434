// The bench's step function over the real trainer path: a TrainingRun (lib/train/training_run.ts),
// the object train() steps, over the bench's pairs, after the reference log-probs were computed with
// the reference model loaded alone and released; one optimiser step per call = its batch assembly
// + trainer.accumulate (forward, loss, backward) + trainer.step (clip, AdamW).
//
// Differences from a training run, all outside the timed work: the pairs are the first
// (warm-up + steps) × batch-size of the file in file order (as TRL's peer takes them), not a
// seeded shuffle; the learning rate is constant; nothing is logged or saved; no reference cache;
// no term gradient norms on the first step; a non-finite step is skipped, not an error.
//
// Reference work: the trainer precomputes reference log-probs before training. Here each
// step's pairs are scored as one reference batch by lib/train/reference.ts, timed, and that time
// is charged to the step (referenceOutsideSeconds).
import { loadPreferences } from '../data/load.js';
import { CausalLM } from '../model/causal_lm.js';
import { loadNative } from '../native/load.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { resolveTrainConfig, type TrainConfig } from '../train/config.js';
import { prepareTrainingData, type ExampleWithId } from '../train/dataset.js';
import { packPreferenceBatch } from '../train/preference_batch.js';
import { referenceLogps } from '../train/reference.js';
import { TrainingRun } from '../train/training_run.js';
import { cpuSecondsSince, type StepSample } from './harness.js';
import type { BenchOptions, Stepper } from './run_bench.js';

const seconds = (from: number) => (performance.now() - from) / 1000;

export async function trainerStepper(opts: BenchOptions): Promise<Stepper> {
  const native = loadNative();
  const config = resolveTrainConfig({
    model: opts.model,
    data: opts.data,
    loss: opts.loss,
    beta: opts.beta,
    lr: opts.lr,
    schedule: 'constant',
    warmupSteps: 0,
    batchSize: opts.batchSize,
    maxLength: opts.maxLength,
    maxPromptLength: opts.maxPromptLength,
    dtype: opts.dtype,
    device: opts.device,
    seed: opts.seed,
    refCache: false,
    onNonfinite: 'skip-step',
  });

  const n = (opts.warmup + opts.steps) * opts.batchSize;
  const examples = await firstPairs(opts, config, n);
  const stepExamples = (i: number) => examples.slice(i * opts.batchSize, (i + 1) * opts.batchSize);

  const { refTrain, refSeconds, refCpuSeconds, refComputed } = await timedReferencePass(opts, config, stepExamples);
  const run = await TrainingRun.overExamples({ native, config, computeDtype: opts.dtype, examples, refTrain });

  const step = async (i: number): Promise<StepSample> => {
    if (run.state.step !== i) throw new RangeError(`bench step ${i} asked for after step ${run.state.step}: the steps run in order, once each`);
    const { row, packedTokens, phases: stepPhases, lastBatch } = await run.step();
    const phases: Record<string, number> = { ...stepPhases, reference: refSeconds[i]! };
    let excludedCpu = 0;
    if (opts.phases) {
      // Forward + loss alone (no gradients), outside the step's time: backward ≈ the difference.
      const p0 = performance.now();
      const c0 = process.cpuUsage();
      await run.trainer.evaluate(lastBatch!);
      phases.forward_loss_nograd = seconds(p0);
      excludedCpu = cpuSecondsSince(c0);
    }
    return {
      pairTokens: row.tokens,
      rationaleTokens: row.rationale_tokens ?? 0,
      referenceTokens: row.tokens,
      computedTokens: { policy: packedTokens, reference: refComputed[i]! },
      referenceOutsideSeconds: refSeconds[i]!,
      referenceOutsideCpuSeconds: refCpuSeconds[i]!,
      phases,
      ...(opts.phases ? { excludedSeconds: phases.forward_loss_nograd!, excludedCpuSeconds: excludedCpu } : {}),
    };
  };
  return { step, precomputeRef: true, close: () => run.close() };
}

/** The first n pairs of the file in file order, tokenized with TRL's conventions. */
async function firstPairs(opts: BenchOptions, config: TrainConfig, n: number): Promise<ExampleWithId[]> {
  const rationale = opts.loss === 'rdpo';
  const { pairs } = await loadPreferences(opts.data);
  if (pairs.length < n) {
    throw new RangeError(`${opts.data}: ${pairs.length} pairs, need (warm-up + steps) × batch-size = ${n}; pass a larger file or fewer --steps`);
  }
  const chosen = pairs.slice(0, n);
  if (rationale && chosen.some((p) => !p.rationale)) throw new Error(`${opts.data}: --loss rdpo needs a rationale in every pair`);
  const fileIndex = new Map(chosen.map((p, i) => [p.id, i]));
  const data = await prepareTrainingData(Tokenizer.load(opts.model), {
    data: chosen,
    seed: config.seed,
    maxLength: config.maxLength,
    maxPromptLength: config.maxPromptLength,
    rationale,
    // TRL's conventions, so both sides of the benchmark score the same tokens.
    promptFormat: 'plain',
    truncationMode: 'keep_end',
  });
  const examples: ExampleWithId[] = [...data.train].sort((a, b) => fileIndex.get(a.id)! - fileIndex.get(b.id)!);
  if (examples.length < n) throw new Error(`${opts.data}: ${n - examples.length} of the first ${n} pairs were dropped by truncation; raise --max-length`);
  return examples;
}

/**
 * Reference pass, per step's pairs, with the reference model alone in memory (as the trainer does),
 * through the trainer's own reference pass (lib/train/reference.ts), one step's pairs at a time, timed.
 */
async function timedReferencePass(opts: BenchOptions, config: TrainConfig, stepExamples: (i: number) => ExampleWithId[]) {
  const n = (opts.warmup + opts.steps) * opts.batchSize;
  const refTrain = { chosen: new Float32Array(n), rejected: new Float32Array(n) };
  const refSeconds: number[] = [];
  const refCpuSeconds: number[] = [];
  const refComputed: number[] = [];
  const ref = await CausalLM.load(config.refModel ?? config.model, { dtype: 'float32', device: config.device });
  try {
    const refOpts = {
      device: config.device,
      computeDtype: opts.dtype,
      batchSize: opts.batchSize,
      logitsChunk: config.logitsChunk,
      useCache: false,
      model: ref,
    };
    for (let i = 0; i < opts.warmup + opts.steps; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const r = await referenceLogps(config.refModel ?? config.model, stepExamples(i), refOpts);
      refSeconds.push(seconds(t0));
      refCpuSeconds.push(cpuSecondsSince(c0));
      refComputed.push(packPreferenceBatch(stepExamples(i), { rejected: true, rationale: false }).packedTokens);
      refTrain.chosen.set(r.chosen, i * opts.batchSize);
      refTrain.rejected.set(r.rejected, i * opts.batchSize);
    }
  } finally {
    ref.dispose();
  }
  return { refTrain, refSeconds, refCpuSeconds, refComputed };
}
