// The bench's step function over the real trainer path: the pieces lib/train/trainer.ts runs,
// in the same order — tokenize (TRL's conventions), reference log-probs with the reference model
// loaded alone and released, then the policy and the native trainer; one optimiser step per call
// = packPreferenceBatch + trainer.accumulate (forward, loss, backward) + trainer.step (clip, AdamW).
//
// Differences from a training run, all outside the timed work: the pairs are the first
// (warm-up + steps) × batch-size of the file in file order (as TRL's peer takes them), not a
// seeded shuffle; the learning rate is constant; nothing is logged or saved; no reference cache.
//
// Reference work: the trainer precomputes reference log-probs before training. Here each
// step's pairs are scored as one reference batch (the same packing and native call as
// lib/train/reference.ts), timed, and that time is charged to the step (referenceOutsideSeconds).
import { loadPreferences } from '../data/load.js';
import { CausalLM } from '../model/causal_lm.js';
import type { NativePreferenceBatch } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { nativeTrainerOptions, resolveTrainConfig } from '../train/config.js';
import { prepareTrainingData, type ExampleWithId } from '../train/dataset.js';
import { packPreferenceBatch } from '../train/preference_batch.js';
import { cpuSecondsSince, type StepSample } from './harness.js';
import type { BenchOptions, Stepper } from './run_bench.js';

const seconds = (from: number) => (performance.now() - from) / 1000;

export async function trainerStepper(opts: BenchOptions): Promise<Stepper> {
  const native = loadNative();
  const rationale = opts.loss === 'rdpo';
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
  });

  // The first n pairs in file order.
  const n = (opts.warmup + opts.steps) * opts.batchSize;
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
  const stepExamples = (i: number) => examples.slice(i * opts.batchSize, (i + 1) * opts.batchSize);

  // Reference pass, per step's pairs, with the reference model alone in memory (as the trainer does).
  const refChosen: Float32Array[] = [];
  const refRejected: Float32Array[] = [];
  const refSeconds: number[] = [];
  const refCpuSeconds: number[] = [];
  const refComputed: number[] = [];
  const ref = await CausalLM.load(config.refModel ?? config.model, { dtype: 'float32', device: config.device });
  try {
    for (let i = 0; i < opts.warmup + opts.steps; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const batch = packPreferenceBatch(stepExamples(i), { rejected: true, rationale: false });
      const r = await native.referenceLogps(ref.nativeHandle, batch, { computeDtype: opts.dtype, logitsChunk: config.logitsChunk });
      refSeconds.push(seconds(t0));
      refCpuSeconds.push(cpuSecondsSince(c0));
      refComputed.push(batch.packedTokens);
      refChosen.push(r.chosen);
      refRejected.push(r.rejected);
    }
  } finally {
    ref.dispose();
  }

  const policy = await CausalLM.load(config.model, { dtype: 'float32', device: config.device });
  const trainer = await native.createTrainer(policy.nativeHandle, nativeTrainerOptions(config, opts.dtype));

  const step = async (i: number): Promise<StepSample> => {
    const t0 = performance.now();
    const packed = packPreferenceBatch(stepExamples(i), { rejected: true, rationale });
    const batch: NativePreferenceBatch & typeof packed = { ...packed, refChosen: refChosen[i]!, refRejected: refRejected[i]! };
    const t1 = performance.now();
    await trainer.accumulate(batch, 1);
    const t2 = performance.now();
    await trainer.step(config.lr, config.maxGradNorm);
    const t3 = performance.now();
    const phases: Record<string, number> = {
      pack: (t1 - t0) / 1000,
      forward_loss_backward: (t2 - t1) / 1000,
      optimizer: (t3 - t2) / 1000,
      reference: refSeconds[i]!,
    };
    let excludedCpu = 0;
    if (opts.phases) {
      // Forward + loss alone (no gradients), outside the step's time: backward ≈ the difference.
      const p0 = performance.now();
      const c0 = process.cpuUsage();
      await trainer.evaluate(batch);
      phases.forward_loss_nograd = seconds(p0);
      excludedCpu = cpuSecondsSince(c0);
    }
    return {
      pairTokens: packed.pairTokens,
      rationaleTokens: packed.rationaleTokens,
      referenceTokens: packed.pairTokens,
      computedTokens: { policy: packed.packedTokens, reference: refComputed[i]! },
      referenceOutsideSeconds: refSeconds[i]!,
      referenceOutsideCpuSeconds: refCpuSeconds[i]!,
      phases,
      ...(opts.phases ? { excludedSeconds: phases.forward_loss_nograd!, excludedCpuSeconds: excludedCpu } : {}),
    };
  };
  return { step, precomputeRef: true, close: () => policy.dispose() };
}
