// Sets up the training run train() steps, in this order: device and dtype, the tokenized data, the
// data-parallel handshake, the run's shape and the state it resumes from, config.json, LoRA, the
// reference pass, the policy and the native trainer. Data-parallel (torchrun's variables, WORLD_SIZE
// > 1): every rank runs this; rank 0 alone logs and writes (docs/distributed.md).
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CausalLM } from '../model/causal_lm.js';
import type { ComputeDtype } from '../model/compute_dtype.js';
import { attachLora, checkpointDtype, loadAdapter, parseLoraTargets, saveAdapter } from '../model/lora.js';
import { matmulParams } from '../model/flops.js';
import { measureMatmulPeak } from '../model/matmul_peak.js';
import { peakDtype } from '../model/compute_dtype.js';
import type { NativeBinding } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import { packageVersion } from '../native/runtime.js';
import { isHubModelSpec, resolveModel } from '../hub/resolve_model.js';
import { readTrainerState, removeStaleTemporaries, type TrainerState } from './checkpoint.js';
import { ConfigError, lossSpec, nativeTrainerOptions, type TrainConfig } from './config.js';
import { DataParallel, bucketBytes, dataParallelTimeout, fingerprint, overlapBackward, type RankEnv } from './data_parallel.js';
import type { ExampleWithId } from './dataset.js';
import { dataIdentity } from './data_identity.js';
import { MetricsLog } from './metrics.js';
import { referenceLogps } from './reference.js';
import { openTrackers } from './report_to.js';
import { checkResumedData, trajectoryDigest, writeRunConfig, type ResolvedRun } from './run_directory.js';
import { loadRunData, setUpRunDevice, zeroStage, type RunData } from './run_data.js';
import { TrainingRun, type ReferenceValues } from './training_run.js';

export interface OpenOptions {
  ranks: RankEnv | undefined;
  log: (m: string) => void;
  /** `--resume` although the data file changed since the run started (the resume is then not exact). */
  acceptDataChange?: boolean;
}

/** The run `resolved` describes, ready to step (from its checkpoint when it resumes one). */
export async function openTrainingRun(resolved: ResolvedRun, opts: OpenOptions): Promise<TrainingRun> {
  const { ranks, log } = opts;
  const main = !ranks || ranks.rank === 0;
  const { config, runDir, resumeFrom } = resolved;
  const native = loadNative();
  const { device, dtypeDecision } = setUpRunDevice(native, config, ranks, log);
  const computeDtype = dtypeDecision.dtype;
  const runData = await loadRunData(config, log);
  const { data } = runData;
  const identity = await dataIdentity(config.data, data.train, data.eval);
  if (config.resume) checkResumedData(runDir, identity, opts.acceptDataChange ?? false, log);
  const dp = ranks ? await DataParallel.join(native, ranks, dataParallelTimeout(), device) : undefined;
  if (main) mkdirSync(runDir, { recursive: true });
  const shape = runShape(config, data.train);
  if (dp) await checkSameRun(dp, resolved, data.train, shape);
  const state = startState(resolved, runData, shape, log);
  if (config.resume && main) {
    // Rows after the checkpoint (all of them when there is none yet) are redone by this run.
    MetricsLog.truncateAfter(path.join(runDir, 'metrics.jsonl'), state.step);
    for (const stale of removeStaleTemporaries(runDir)) log(`removed ${stale}, left by an interrupted write`);
  }
  const runtime = native.runtimeInfo();
  if (main) {
    const { load, hub, tokenization } = data;
    writeRunConfig(runDir, {
      config,
      torchVersion: runtime.torchVersion,
      data: { load, ...(hub ? { hub } : {}), tokenization, trainPairs: data.train.length, evalPairs: data.eval.length, identity },
      totalSteps: shape.totalSteps,
      ...(dp ? { dataParallel: { worldSize: dp.worldSize, backend: dp.group.backend } } : {}),
    });
  }
  const models = await loadModels(native, resolved, runData, { device, computeDtype, dp, log });
  // The bench's measurement (best of 5 trials of 1024² matmuls on the CPU); a single 512² trial
  // read far below the machine's peak on a busy machine (the 7B LoRA run logged an MFU of 3.5).
  // In the dtype the matmuls really run in: emulated bf16 is measured against the float32 peak.
  const peakFlopsPerSec = await measureMatmulPeak({ dtype: peakDtype(computeDtype, dtypeDecision.native), device });
  const metrics = main ? new MetricsLog(path.join(runDir, 'metrics.jsonl'), openTrackers(config.reportTo, runDir, state.step, log)) : undefined;
  return new TrainingRun({
    native,
    config,
    runDir,
    main,
    log,
    train: data.train,
    eval: data.eval,
    ...models,
    ...(dp ? { dp } : {}),
    ...shape,
    state,
    ...(metrics ? { metrics } : {}),
    peakFlopsPerSec,
    // The FLOP convention's N (model/flops.ts), as the bench counts it.
    matmulParams: matmulParams(models.policy.config),
  });
}

/** Micro-batches per epoch and optimiser steps of the run. */
function runShape(config: TrainConfig, train: ExampleWithId[]): { microPerEpoch: number; totalSteps: number } {
  // dropLastBatch: only full batches, as the authors' data loader yields them (dataloader.py:905).
  const microPerEpoch = config.dropLastBatch ? Math.floor(train.length / config.batchSize) : Math.ceil(train.length / config.batchSize);
  if (microPerEpoch < 1)
    throw new ConfigError(`dropLastBatch: ${train.length} training pairs make no full batch of ${config.batchSize}; lower batchSize or drop dropLastBatch`);
  const totalSteps = config.maxSteps ?? Math.max(1, Math.ceil((config.epochs * microPerEpoch) / config.gradAccum));
  return { microPerEpoch, totalSteps };
}

/**
 * Before any rank writes or computes: a rank with other settings, data or run directory would
 * otherwise meet the others in collectives of other sizes (Gloo would wait until its timeout).
 */
async function checkSameRun(dp: DataParallel, run: ResolvedRun, train: ExampleWithId[], shape: { totalSteps: number }): Promise<void> {
  const order = createHash('sha256')
    .update(train.map((e) => e.id).join('\n'))
    .digest('hex');
  await dp.checkSame('the run settings (config digest, run directory, training pairs and their ids, steps, checkpoint)', [
    fingerprint(trajectoryDigest(run.config)),
    fingerprint(run.runDir),
    train.length,
    fingerprint(order),
    shape.totalSteps,
    fingerprint(run.resumeFrom ?? ''),
  ]);
}

/** Step 0 of a new run, or the state of the checkpoint it resumes (refused when the trajectory settings differ). */
function startState(run: ResolvedRun, runData: RunData, shape: { totalSteps: number }, log: (m: string) => void): TrainerState {
  const { config, runDir, resumeFrom } = run;
  const { promptFormat } = runData;
  const { totalSteps } = shape;
  const configDigest = trajectoryDigest(config);
  if (resumeFrom) {
    const saved = readTrainerState(resumeFrom);
    if (saved.configDigest !== configDigest) {
      throw new Error(`${resumeFrom} was written with other training settings; an exact resume is not possible`);
    }
    log(`resuming ${runDir} from ${path.basename(resumeFrom)} (step ${saved.step}/${totalSteps})`);
    return { ...saved, promptFormat, totalSteps };
  }
  if (config.resume) log(`resuming ${runDir}: no checkpoint yet, starting from step 0`);
  const savedAt = new Date().toISOString();
  return { promptFormat, step: 0, totalSteps, microBatches: 0, totalTokens: 0, configDigest, version: packageVersion(), savedAt };
}

interface RunModels {
  policy: CausalLM;
  trainer: Awaited<ReturnType<NativeBinding['createTrainer']>>;
  refTrain?: ReferenceValues;
  refEval?: ReferenceValues;
  zero: boolean;
  lora: boolean;
  loraDropout: boolean;
  saveWeights?: (dir: string) => Promise<void>;
}

/**
 * The models in memory, in this order: a LoRA policy (one model: the base frozen in its checkpoint
 * dtype with float32 adapters on it), the reference log-probs of the training and held-out pairs,
 * then a full policy in float32 (from the checkpoint when resuming) and the native trainer.
 */
async function loadModels(
  native: NativeBinding,
  run: ResolvedRun,
  { modelDir, data }: RunData,
  o: { device: string; computeDtype: ComputeDtype; dp: DataParallel | undefined; log: (m: string) => void },
): Promise<RunModels> {
  const { config, resumeFrom } = run;
  const { device, dp, log } = o;
  const lora = config.loraR !== undefined || config.adapter !== undefined;
  const loraPolicy = lora ? await loadLoraPolicy(config, modelDir, device, resumeFrom, log) : undefined;
  let refs: { refTrain?: ReferenceValues; refEval?: ReferenceValues };
  try {
    refs = await referencePass(config, modelDir, data, { ...o, ...(loraPolicy ? { loraPolicy: loraPolicy.model } : {}) });
  } catch (err) {
    loraPolicy?.model.dispose();
    throw err;
  }
  const policy = loraPolicy?.model ?? (await CausalLM.load(resumeFrom ?? modelDir, { dtype: 'float32', device }));
  // --zero 1 (or RDPO_DDP_ZERO=1): ZeRO-1 over the ranks (docs/distributed.md).
  const zero = dp !== undefined && zeroStage(config) === 1;
  // Every rank starts from rank 0's weights (the same files, but a multi-node copy could differ).
  if (dp) await dp.group.broadcastModel(policy.nativeHandle);
  const trainer = await native.createTrainer(policy.nativeHandle, {
    ...nativeTrainerOptions(config, o.computeDtype),
    ...(dp ? { processGroup: dp.group, bucketBytes: bucketBytes(), overlapBackward: overlapBackward(), shardOptimizer: zero } : {}),
  });
  if (resumeFrom) await trainer.loadOptimizerState(path.join(resumeFrom, 'optimizer.safetensors'));
  // A LoRA run's checkpoints and final/ hold the adapter (PEFT's format), not the model.
  const baseModel = isHubModelSpec(config.model) ? config.model : path.resolve(modelDir);
  const saveWeights = lora ? (dir: string) => saveAdapter(policy, dir, { baseModel }) : undefined;
  return { policy, trainer, ...refs, zero, lora, loraDropout: loraPolicy?.dropout ?? false, ...(saveWeights ? { saveWeights } : {}) };
}

/** The LoRA policy: the base with new adapters, or with the adapter it continues (--adapter, or the checkpoint's). */
async function loadLoraPolicy(
  config: TrainConfig,
  modelDir: string,
  device: string,
  resumeFrom: string | undefined,
  log: (m: string) => void,
): Promise<{ model: CausalLM; dropout: boolean }> {
  const base = await CausalLM.load(modelDir, { dtype: checkpointDtype(modelDir), device });
  try {
    const adapterDir = resumeFrom ?? (config.adapter !== undefined ? path.resolve(config.adapter) : undefined);
    const info = adapterDir
      ? await loadAdapter(base, adapterDir)
      : await attachLora(base, {
          r: config.loraR!,
          ...(config.loraAlpha !== undefined ? { alpha: config.loraAlpha } : {}),
          ...(config.loraDropout !== undefined ? { dropout: config.loraDropout } : {}),
          targets: parseLoraTargets(config.loraTargets ?? 'all-linear'),
          useRslora: config.loraRslora ?? false,
          seed: config.seed,
        });
    log(
      `LoRA r=${info.r} alpha=${info.alpha} dropout=${info.dropout} on ${info.modules} modules: ${info.trainableParameters} trainable parameters; ` +
        `base frozen in ${base.config.dtype}${adapterDir ? ` (adapter from ${adapterDir})` : ''}`,
    );
    return { model: base, dropout: info.dropout > 0 };
  } catch (err) {
    base.dispose();
    throw err;
  }
}

/**
 * Reference log-probs for the training and held-out pairs, before training starts (cached unless
 * --no-ref-cache). A LoRA run without --ref-model scores its base with the adapters switched off.
 */
async function referencePass(
  config: TrainConfig,
  modelDir: string,
  data: RunData['data'],
  o: { device: string; computeDtype: ComputeDtype; dp: DataParallel | undefined; log: (m: string) => void; loraPolicy?: CausalLM },
): Promise<{ refTrain?: ReferenceValues; refEval?: ReferenceValues }> {
  const { dp, log } = o;
  // Resolved (a hub id: fetched) also when the loss has no reference, as --ref-model always was.
  const refDir = config.refModel !== undefined ? await resolveModel(config.refModel, { log }) : modelDir;
  if (!lossSpec(config.loss).needsReference) return {};
  const shard = dp ? { rank: dp.rank, worldSize: dp.worldSize, sum: (v: Float64Array) => dp.sum(v), all: (f: boolean) => dp.all(f) } : undefined;
  const refOpts = {
    device: o.device,
    computeDtype: o.computeDtype,
    batchSize: config.batchSize,
    logitsChunk: config.logitsChunk,
    useCache: config.refCache,
    log,
    ...(shard ? { shard } : {}),
    ...(o.loraPolicy && config.refModel === undefined ? { model: o.loraPolicy } : {}),
  };
  const refTrain = await referenceLogps(refDir, data.train, refOpts);
  const refEval = data.eval.length > 0 ? await referenceLogps(refDir, data.eval, refOpts) : undefined;
  log(`reference log-probs for ${data.train.length} pairs: ${refTrain.cached ? 'from cache' : `${refTrain.seconds.toFixed(1)} s`}`);
  return { refTrain, ...(refEval ? { refEval } : {}) };
}
