// The training loop: data → tokenized examples → (cached) reference log-probs → micro-batches
// through the native trainer → metrics.jsonl, progress, evaluation, checkpoints, final model.
// Exact resume: the data order, learning rates and float32 master weights are all reproduced
// from the checkpoint, so a resumed run logs the metrics an uninterrupted one would have.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CausalLM } from '../model/causal_lm.js';
import { attachLora, checkpointDtype, loadAdapter, parseLoraTargets, saveAdapter } from '../model/lora.js';
import { matmulParams, modelFlopsUtilization } from '../model/flops.js';
import type { NativePreferenceBatch, NativeTrainer } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import { measureMatmulPeak } from '../model/matmul_peak.js';
import { packageVersion } from '../native/runtime.js';
import { resolvePromptFormat, type PromptFormat } from '../tokenize/prompt_format.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic_write.js';
import { SeededRandom } from '../util/random.js';
import { checkpointName, latestCheckpoint, readTrainerState, removeStaleTemporaries, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { ConfigError, lossSpec, nativeTrainerOptions, resolveTrainConfig, type TrainConfig, type TrainConfigInput } from './config.js';
import { prepareTrainingData, type ExampleWithId } from './dataset.js';
import {
  DataParallel,
  DataParallelSetupError,
  bucketBytes,
  overlapBackward,
  dataParallelTimeout,
  fingerprint,
  rankDevice,
  rankEnv,
  shareOf,
  threadsPerRank,
  type LocalMetrics,
} from './data_parallel.js';
import { MetricsLog, StepAccumulator, type MetricsRow } from './metrics.js';
import { openTrackers } from './report_to.js';
import { stopReasonOf, type TrainCallbacks } from './callbacks.js';
import { weightsFiles } from './weights_files.js';
import { packPreferenceBatch } from './preference_batch.js';
import { memoryPlanSettings } from './plan_settings.js';
import { planMemory, type MemoryPlan } from './memory_plan.js';
import { TrainProgress } from './progress.js';
import { referenceLogps } from './reference.js';
import { learningRateAt } from './schedule.js';
import { resolveRunDtype } from './run_dtype.js';
import { peakDtype } from '../model/compute_dtype.js';
import { isHubModelSpec, resolveModel } from '../hub/resolve_model.js';
import { cachedModelSnapshot, hubCacheDir, parseHubModelId } from '../hub/hf_cache.js';
import { checkNewRunDirectory, clearRun, isRunDirectory, openRunDirectory } from './run_directory.js';
import { dataIdentity, dataIdentityChange, type DataIdentity } from './data_identity.js';

/**
 * `onStep`, `onEvaluate` and `onCheckpoint` (callbacks.ts) may return `stopTraining(reason)`;
 * `callbacks` adds more of them (e.g. `earlyStopping({ metric: 'loss', patience: 2 })`).
 */
export interface TrainHooks extends TrainCallbacks {
  callbacks?: TrainCallbacks[];
  /** Aborting stops after the current step and writes a checkpoint (and final/, from that step). */
  signal?: AbortSignal;
  log?: (message: string) => void;
  /** Show a progress bar on stderr (the CLI does). */
  progress?: boolean;
  /** Load and tokenize the data, return the memory plan, train nothing and write nothing. */
  dryRun?: boolean;
  /** The ranks the dry run plans for (`train --nproc N --dry-run`); default WORLD_SIZE, else 1. */
  planRanks?: number;
}

/** --zero, else RDPO_DDP_ZERO=1 (the switch that came first). */
function zeroStage(config: TrainConfig): 0 | 1 {
  return config.zero ?? (process.env.RDPO_DDP_ZERO === '1' ? 1 : 0);
}

/**
 * What rank 0 sent in the first step (/proc/self/io, Linux), in units of the float32 gradient
 * (4 bytes × trained elements). On 2 ranks a ring all-reduce sends 1×, a reduce-scatter ½× and the
 * parameter all-gather ½×.
 */
function communicationLine(g: { collective: string; gradientBytesSent: number; parameterBytesSent: number; gradientElements: number }): string {
  if (g.gradientBytesSent < 0) return 'bytes sent per step not measured (no /proc/self/io)';
  const unit = 4 * g.gradientElements;
  const part = (bytes: number) => `${bytes} bytes (${(bytes / unit).toFixed(3)} × the float32 gradient)`;
  const gathered = g.parameterBytesSent >= 0 ? `, parameter all-gather ${part(g.parameterBytesSent)}` : '';
  return `step 1: rank 0 sent: gradient ${g.collective} ${part(g.gradientBytesSent)}${gathered}`;
}

/** A NaN or infinite loss or gradient norm with `onNonfinite: 'stop'`; the weights were not updated with it. */
export class NonFiniteTrainingError extends Error {
  override name = 'NonFiniteTrainingError';
}

export interface TrainResult {
  runDir: string;
  /** The trained model in Hugging Face format (after a stop: the weights of the step it stopped at). */
  finalModelDir: string | undefined;
  steps: number;
  totalSteps: number;
  /** Stopped by the AbortSignal (Ctrl-C): a checkpoint was written; `--resume` continues it. */
  interrupted: boolean;
  /** Training ended before totalSteps: at which step, and why (a callback's reason, or the interruption). */
  stopped?: { step: number; reason: string };
  lastMetrics: MetricsRow | undefined;
  lastEval: MetricsRow | undefined;
  /** `dryRun`: what each rank would need */
  plan?: MemoryPlan;
}

// Token counts add up over micro-batches and ranks; every other metric is averaged.
const SUMMED_METRICS = ['tokens', 'rationale_tokens', 'packed_tokens'];

/** JSON with object keys sorted, so that equal settings give equal text whatever their order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

// Keys are sorted: a resumed run rebuilds its config from config.json, whose key order differs
// from the one the first run's schema output had (the per-loss defaults are appended there).
function digest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** The settings that define the run's trajectory (resuming with other values would not be exact). */
function trajectoryKeys(c: TrainConfig): unknown {
  // zero: how the ranks share the optimizer, not which updates they make (tested bit-identical on 2 ranks).
  const { out: _o, resume: _r, maxSteps: _m, evalEvery: _e, saveEvery: _s, threads: _t, refCache: _c, onNonfinite: _n, zero: _z, reportTo: _p, ...rest } = c;
  return rest;
}

function defaultRunDir(c: TrainConfig): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  return path.resolve('runs', `${stamp}-${c.loss}`);
}

function resolveRun(input: TrainConfigInput & { resume?: string }, log: (m: string) => void): { config: TrainConfig; runDir: string; resumeFrom?: string } {
  if (input.resume) {
    const runDir = path.resolve(input.resume);
    const file = path.join(runDir, 'config.json');
    if (!existsSync(file)) throw new Error(`--resume ${runDir}: no config.json there (is it a run directory?)`);
    let saved: TrainConfigInput | undefined;
    try {
      saved = (JSON.parse(readFileSync(file, 'utf8')) as { config?: TrainConfigInput } | null)?.config;
    } catch (err) {
      throw new Error(`--resume ${runDir}: ${file} is not JSON (${(err as Error).message}); is it a run directory?`);
    }
    if (saved === null || typeof saved !== 'object' || !isRunDirectory(runDir)) {
      throw new Error(`--resume ${runDir}: not a run directory (${file} has no "config" object, or there is no metrics.jsonl); start a new run with --out`);
    }
    // Only settings that do not change the trajectory may be overridden on resume.
    const overrides: Partial<TrainConfigInput> = {};
    const allowed = ['maxSteps', 'evalEvery', 'saveEvery', 'threads', 'onNonfinite', 'zero', 'reportTo'] as const;
    for (const k of allowed) {
      if (input[k] !== undefined) (overrides as Record<string, unknown>)[k] = input[k];
    }
    // A run is prompted in one format for its whole life: another would change every token it scores.
    const savedFormat = (saved as { promptFormat?: string }).promptFormat;
    if (input.promptFormat !== undefined && input.promptFormat !== 'auto' && savedFormat !== undefined && input.promptFormat !== savedFormat) {
      throw new Error(
        `--resume ${runDir}: the run was trained with prompt format ${savedFormat} (config.json); it cannot continue with ${input.promptFormat}. ` +
          `Drop --prompt-format, or start a new run with --out.`,
      );
    }
    const ignored = Object.keys(input).filter(
      (k) => !(allowed as readonly string[]).includes(k) && !['resume', 'out'].includes(k) && input[k as keyof typeof input] !== undefined,
    );
    if (ignored.length > 0) {
      log(`warning: --resume keeps the run's recorded settings; ignoring ${ignored.join(', ')} (only ${allowed.join(', ')} may change)`);
    }
    const config = resolveTrainConfig({ ...saved, ...overrides, out: runDir, resume: runDir }, `${file}`);
    const from = latestCheckpoint(runDir, (m) => log(`warning: ${m}`));
    return { config, runDir, ...(from ? { resumeFrom: from } : {}) };
  }
  const config = resolveTrainConfig(input as Record<string, unknown>);
  const runDir = config.out ? path.resolve(config.out) : defaultRunDir(config);
  return { config: { ...config, out: runDir }, runDir };
}

/**
 * The resolved configuration a run with these settings would record as config.json's `config`,
 * without training (`train --print-config`): preset and per-loss defaults filled in, the run
 * directory and, when the model's tokenizer can be read, the prompt format resolved.
 */
export function resolvedRunConfig(input: TrainConfigInput): TrainConfig {
  const config = resolveTrainConfig(input as Record<string, unknown>);
  const out = { ...config, out: config.out ? path.resolve(config.out) : defaultRunDir(config) };
  // A hub id is read from the cache when it is there (never downloaded just to print).
  const hubId = isHubModelSpec(config.model) ? parseHubModelId(config.model) : null;
  const modelDir = hubId ? (cachedModelSnapshot(hubCacheDir(), hubId) ?? config.model) : config.model;
  if (out.promptFormat === 'auto' && existsSync(path.join(modelDir, 'tokenizer.json'))) {
    out.promptFormat = resolvePromptFormat(Tokenizer.load(modelDir), 'auto');
  }
  return out;
}

function nonFinite(step: number, what: string, value: number, runDir: string): NonFiniteTrainingError {
  const last = latestCheckpoint(runDir);
  return new NonFiniteTrainingError(
    `step ${step}: the ${what} is ${value}; training stopped and nothing from this step was written. ` +
      (last ? `The last good checkpoint is ${last}. ` : 'No checkpoint was written before it. ') +
      'Lower --lr (or raise --warmup-steps / set --max-grad-norm), or pass --on-nonfinite skip-step to skip such steps.',
  );
}

/** What a run is asked besides its settings (none of it is recorded in config.json). */
export interface TrainRunOptions {
  resume?: string;
  /** Start again in a run directory that already holds a run of ours (its run files are removed). */
  overwrite?: boolean;
  /** `--resume` although the data file changed since the run started (the resume is then not exact). */
  acceptDataChange?: boolean;
}

/** --resume: refuses data other than the run recorded (config.json's data.identity), unless accepted. */
function checkResumedData(runDir: string, now: DataIdentity, accept: boolean, log: (m: string) => void): void {
  const file = path.join(runDir, 'config.json');
  const saved = (JSON.parse(readFileSync(file, 'utf8')) as { data?: { identity?: DataIdentity } }).data?.identity;
  if (!saved) return; // a run from before identities were recorded
  const change = dataIdentityChange(saved, now);
  if (!change) return;
  if (accept) {
    log(`warning: --resume ${runDir}: the data changed since the run started (${change}); continuing on it (--accept-data-change), so the resume is not exact`);
    return;
  }
  throw new Error(
    `--resume ${runDir}: the data changed since the run started: ${change} (${file} records what it was). ` +
      'An exact resume needs the same data: restore the file, or pass --accept-data-change to continue on the new data.',
  );
}

export async function train(input: TrainConfigInput & TrainRunOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const { overwrite, acceptDataChange, ...settings } = input;
  const ranks = rankEnv();
  const main = !ranks || ranks.rank === 0;
  const log = !main ? () => {} : (hooks.log ?? ((m: string) => process.stderr.write(`${m}\n`)));
  if (ranks && settings.out === undefined && settings.resume === undefined) {
    throw new DataParallelSetupError(
      `data-parallel training (WORLD_SIZE=${ranks.worldSize}) needs --out (or --resume): every rank must name the same run directory`,
    );
  }
  const resolved = resolveRun(settings, log);
  // Rank 0 alone checks, clears and locks the directory; a dry run writes nothing.
  if (!main || hooks.dryRun) return trainRun(resolved, hooks, acceptDataChange === true);
  const { config, runDir } = resolved;
  if (!config.resume) {
    const local = (p: string | undefined) => (p !== undefined && !isHubModelSpec(p) ? p : undefined);
    checkNewRunDirectory(runDir, {
      inputs: [
        { flag: '--model', path: local(config.model) },
        { flag: '--ref-model', path: local(config.refModel) },
        { flag: '--data', path: config.data },
        { flag: '--adapter', path: config.adapter },
      ],
      ...(overwrite ? { overwrite } : {}),
    });
  }
  // Held from here to the end: a second run on this directory fails at once, naming this pid.
  const lock = openRunDirectory(runDir);
  try {
    if (overwrite && !config.resume) {
      clearRun(runDir);
      log(`--overwrite: removed the earlier run's files from ${runDir}`);
    }
    return await trainRun(resolved, hooks, acceptDataChange === true);
  } finally {
    lock.release();
  }
}

async function trainRun(resolved: ReturnType<typeof resolveRun>, hooks: TrainHooks, acceptDataChange: boolean): Promise<TrainResult> {
  // Data-parallel when torchrun's variables say so (WORLD_SIZE > 1; `train --nproc N` sets them):
  // every rank runs this function; rank 0 alone logs and writes (docs/distributed.md).
  const ranks = rankEnv();
  const main = !ranks || ranks.rank === 0;
  const log = !main ? () => {} : (hooks.log ?? ((m: string) => process.stderr.write(`${m}\n`)));
  const { config, runDir, resumeFrom } = resolved;
  const native = loadNative();
  if (config.threads) native.setNumThreads(config.threads);
  else if (ranks && ranks.localWorldSize > 1) native.setNumThreads(threadsPerRank(ranks));
  // Data-parallel ranks on CUDA train on their own GPU (cuda:LOCAL_RANK) and all-reduce with NCCL.
  // config.device stays as given: it is part of the settings every rank must share.
  const device = ranks ? rankDevice(config.device, ranks) : config.device;
  const dtypeDecision = resolveRunDtype(config.dtype, device, main ? log : () => {});
  const computeDtype = dtypeDecision.dtype;

  const loss = config.loss;
  // What the loss needs, from the core's loss catalogue.
  const { needsReference: useReference, needsRationale: useRationale, needsRejected: useRejected } = lossSpec(loss);

  // Hub ids (org/name[@rev]) become cache snapshot directories; config.json keeps what was asked for.
  const modelDir = await resolveModel(config.model, { log });
  const tokenizer = Tokenizer.load(modelDir);
  // The run records the format it resolved, so resume, eval and generation prompt it the same way.
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
    rationale: useRationale,
    promptFormat,
    truncationMode: config.truncationMode,
    sameAsRationaleArm: loss !== 'sft',
    warn: (m) => log(`warning: ${m}`),
    log,
  });
  if (data.tokenization.rationalesDropped > 0) {
    log(
      `${data.tokenization.rationalesDropped} pairs left out: their rationale row does not fit maxLength ${config.maxLength} ` +
        `(left out for every loss, so DPO and RDPO arms train on the same pairs)`,
    );
  }
  const train = data.train;
  const identity = await dataIdentity(config.data, train, data.eval);
  if (config.resume) checkResumedData(runDir, identity, acceptDataChange, log);
  if (hooks.dryRun) {
    const plan = planMemory(
      modelDir,
      memoryPlanSettings(
        config,
        train,
        { rejected: useRejected, rationale: useRationale, reference: useReference },
        { ranks: hooks.planRanks ?? ranks?.worldSize ?? 1, zero: zeroStage(config) === 1 },
        computeDtype,
      ),
      native.runtimeInfo().devices,
    );
    return { runDir, finalModelDir: undefined, steps: 0, totalSteps: 0, interrupted: false, lastMetrics: undefined, lastEval: undefined, plan };
  }
  const dp = ranks ? await DataParallel.join(native, ranks, dataParallelTimeout(), device) : undefined;
  if (main) mkdirSync(runDir, { recursive: true });
  // dropLastBatch: only full batches, as the authors' data loader yields them (dataloader.py:905).
  const microPerEpoch = config.dropLastBatch ? Math.floor(train.length / config.batchSize) : Math.ceil(train.length / config.batchSize);
  if (microPerEpoch < 1)
    throw new ConfigError(`dropLastBatch: ${train.length} training pairs make no full batch of ${config.batchSize}; lower batchSize or drop dropLastBatch`);
  const totalSteps = config.maxSteps ?? Math.max(1, Math.ceil((config.epochs * microPerEpoch) / config.gradAccum));
  const configDigest = digest(trajectoryKeys(config));
  if (dp) {
    // Before any rank writes or computes: a rank with other settings, data or run directory would
    // otherwise meet the others in collectives of other sizes (Gloo would wait until its timeout).
    const order = createHash('sha256')
      .update(train.map((e) => e.id).join('\n'))
      .digest('hex');
    await dp.checkSame('the run settings (config digest, run directory, training pairs and their ids, steps, checkpoint)', [
      fingerprint(configDigest),
      fingerprint(runDir),
      train.length,
      fingerprint(order),
      totalSteps,
      fingerprint(resumeFrom ?? ''),
    ]);
  }

  let state: TrainerState = {
    promptFormat,
    step: 0,
    totalSteps,
    microBatches: 0,
    totalTokens: 0,
    configDigest,
    version: packageVersion(),
    savedAt: new Date().toISOString(),
  };
  if (resumeFrom) {
    const saved = readTrainerState(resumeFrom);
    if (saved.configDigest !== configDigest) {
      throw new Error(`${resumeFrom} was written with other training settings; an exact resume is not possible`);
    }
    state = { ...saved, promptFormat, totalSteps };
    log(`resuming ${runDir} from ${path.basename(resumeFrom)} (step ${state.step}/${totalSteps})`);
  } else if (config.resume) {
    log(`resuming ${runDir}: no checkpoint yet, starting from step 0`);
  }
  if (config.resume && main) {
    // Rows after the checkpoint (all of them when there is none yet) are redone by this run.
    MetricsLog.truncateAfter(path.join(runDir, 'metrics.jsonl'), state.step);
    for (const stale of removeStaleTemporaries(runDir)) log(`removed ${stale}, left by an interrupted write`);
  }
  const runtime = native.runtimeInfo();
  if (main)
    writeFileAtomic(
      path.join(runDir, 'config.json'),
      JSON.stringify(
        {
          config,
          versions: { rdpoNative: packageVersion(), torch: runtime.torchVersion, node: process.version },
          data: {
            load: data.load,
            ...(data.hub ? { hub: data.hub } : {}),
            tokenization: data.tokenization,
            trainPairs: train.length,
            evalPairs: data.eval.length,
            identity,
          },
          totalSteps,
          ...(dp ? { dataParallel: { worldSize: dp.worldSize, backend: dp.group.backend } } : {}),
          createdAt: new Date().toISOString(),
        },
        null,
        2,
      ) + '\n',
    );

  // LoRA: one model in memory, the base frozen in its checkpoint dtype with float32 adapters on it;
  // the reference is that base with the adapters switched off (native referenceLogps does so).
  const lora = config.loraR !== undefined || config.adapter !== undefined;
  const baseModelName = isHubModelSpec(config.model) ? config.model : path.resolve(modelDir);
  let loraPolicy: CausalLM | undefined;
  let loraDropout = false;
  if (lora) {
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
      loraDropout = info.dropout > 0;
      log(
        `LoRA r=${info.r} alpha=${info.alpha} dropout=${info.dropout} on ${info.modules} modules: ${info.trainableParameters} trainable parameters; ` +
          `base frozen in ${base.config.dtype}${adapterDir ? ` (adapter from ${adapterDir})` : ''}`,
      );
    } catch (err) {
      base.dispose();
      throw err;
    }
    loraPolicy = base;
  }

  // Reference log-probs for training and evaluation pairs, before training starts.
  const refDir = config.refModel !== undefined ? await resolveModel(config.refModel, { log }) : modelDir;
  const shard = dp ? { rank: dp.rank, worldSize: dp.worldSize, sum: (v: Float64Array) => dp.sum(v), all: (f: boolean) => dp.all(f) } : undefined;
  const refOpts = {
    device,
    computeDtype,
    batchSize: config.batchSize,
    logitsChunk: config.logitsChunk,
    useCache: config.refCache,
    log,
    ...(shard ? { shard } : {}),
    ...(loraPolicy && config.refModel === undefined ? { model: loraPolicy } : {}),
  };
  let refTrain: Awaited<ReturnType<typeof referenceLogps>> | undefined;
  let refEval: Awaited<ReturnType<typeof referenceLogps>> | undefined;
  try {
    refTrain = useReference ? await referenceLogps(refDir, train, refOpts) : undefined;
    refEval = useReference && data.eval.length > 0 ? await referenceLogps(refDir, data.eval, refOpts) : undefined;
  } catch (err) {
    loraPolicy?.dispose();
    throw err;
  }
  if (refTrain) log(`reference log-probs for ${train.length} pairs: ${refTrain.cached ? 'from cache' : `${refTrain.seconds.toFixed(1)} s`}`);

  const policy = loraPolicy ?? (await CausalLM.load(resumeFrom ?? modelDir, { dtype: 'float32', device }));
  // --zero 1 (or RDPO_DDP_ZERO=1): ZeRO-1 over the ranks (docs/distributed.md).
  const zero = dp !== undefined && zeroStage(config) === 1;
  // Every rank starts from rank 0's weights (the same files, but a multi-node copy could differ).
  if (dp) await dp.group.broadcastModel(policy.nativeHandle);
  const trainer: NativeTrainer = await native.createTrainer(policy.nativeHandle, {
    ...nativeTrainerOptions(config, computeDtype),
    ...(dp ? { processGroup: dp.group, bucketBytes: bucketBytes(), overlapBackward: overlapBackward(), shardOptimizer: zero } : {}),
  });
  if (resumeFrom) await trainer.loadOptimizerState(path.join(resumeFrom, 'optimizer.safetensors'));
  // A LoRA run's checkpoints and final/ hold the adapter (PEFT's format), not the model.
  const saveWeights = lora ? (dir: string) => saveAdapter(policy, dir, { baseModel: baseModelName }) : undefined;

  // The bench's measurement (best of 5 trials of 1024² matmuls on the CPU); a single 512² trial
  // read far below the machine's peak on a busy machine (the 7B LoRA run logged an MFU of 3.5).
  // In the dtype the matmuls really run in: emulated bf16 is measured against the float32 peak.
  const peak = { flopsPerSec: await measureMatmulPeak({ dtype: peakDtype(computeDtype, dtypeDecision.native), device }) };
  // The FLOP convention's N (model/flops.ts), as the bench counts it.
  const parameters = matmulParams(policy.config);

  const orderCache = new Map<number, number[]>();
  const epochOrder = (epoch: number): number[] => {
    let order = orderCache.get(epoch);
    if (!order) {
      order = new SeededRandom(config.seed * 1000003 + epoch).shuffle(train.map((_, i) => i));
      orderCache.clear();
      orderCache.set(epoch, order);
    }
    return order;
  };
  const batchFor = (indices: number[], set: ExampleWithId[], ref?: { chosen: Float32Array; rejected: Float32Array }) => {
    const packed = packPreferenceBatch(
      indices.map((i) => set[i]!),
      { rejected: useRejected, rationale: useRationale },
    );
    const batch: NativePreferenceBatch & typeof packed = { ...packed };
    if (ref) {
      batch.refChosen = Float32Array.from(indices, (i) => ref.chosen[i]!);
      batch.refRejected = Float32Array.from(indices, (i) => ref.rejected[i]!);
    }
    return batch;
  };

  const metrics = main ? new MetricsLog(path.join(runDir, 'metrics.jsonl'), openTrackers(config.reportTo, runDir, state.step, log)) : undefined;
  const progress = new TrainProgress(totalSteps, state.step, loss, main && (hooks.progress ?? false));
  let lastMetrics: MetricsRow | undefined;
  let lastEval: MetricsRow | undefined;
  let interrupted = false;
  // Callbacks (callbacks.ts): the first stop request wins; the run stops after the current step.
  const callbacks: TrainCallbacks[] = [hooks, ...(hooks.callbacks ?? [])];
  let stopReason: string | undefined;
  const context = () => ({ runDir, step: state.step, totalSteps });
  const ask = async (call: (c: TrainCallbacks) => unknown) => {
    for (const c of callbacks) {
      const reason = stopReasonOf(await call(c)); // every callback runs, also after a stop request
      stopReason ??= reason;
    }
  };
  const describe = (stopped?: string) => (main ? weightsFiles(runDir, config, state, { lora, ...(stopped ? { stopped } : {}) }) : {});

  /** Whether an evaluation runs right after optimiser step `step` (periodic, or the final one). */
  const evaluatesAfter = (step: number) => data.eval.length > 0 && ((config.evalEvery > 0 && step % config.evalEvery === 0) || step === totalSteps);
  const evaluate = async (step: number): Promise<MetricsRow | undefined> => {
    if (data.eval.length === 0) return undefined;
    const acc = new StepAccumulator();
    const locals: LocalMetrics[] = [];
    for (let start = 0; start < data.eval.length; start += config.batchSize) {
      let idx = Array.from({ length: Math.min(config.batchSize, data.eval.length - start) }, (_, k) => start + k);
      if (dp) {
        const share = shareOf(idx.length, dp.rank, dp.worldSize);
        idx = idx.slice(share.start, share.end);
        if (idx.length === 0) {
          locals.push({ pairs: 0, values: undefined });
          continue;
        }
      }
      const batch = batchFor(idx, data.eval, refEval);
      const values = { ...(await trainer.evaluate(batch)), tokens: batch.pairTokens };
      if (dp) locals.push({ pairs: idx.length, values });
      else acc.add(values);
    }
    if (dp) for (const m of (await dp.reduceMetrics(locals, SUMMED_METRICS)).metrics) acc.add(m);
    const row: MetricsRow = {
      step,
      epoch: state.microBatches / microPerEpoch,
      ...(acc.result(SUMMED_METRICS) as { loss: number; tokens: number }),
      eval: true,
    };
    metrics?.write(row);
    await ask((c) => c.onEvaluate?.(row, context()));
    return row;
  };

  // RDPO_PROFILE=trace.json: a Chrome trace of LibTorch's profiler over the optimiser steps (keep
  // --max-steps small: every op is recorded). Read it with bench/profile_table.mjs.
  const profile = process.env.RDPO_PROFILE ? path.resolve(process.env.RDPO_PROFILE) : undefined;
  if (profile) native.startProfiler();
  try {
    // Data-parallel: a Ctrl-C that reached any rank stops every rank at the same step.
    let reportedSync = false;
    const stopRequested = async () => {
      const here = hooks.signal?.aborted === true || stopReason !== undefined;
      return dp ? dp.anyAtStep(here, state.step, state.microBatches) : here;
    };
    while (state.step < totalSteps) {
      if (await stopRequested()) {
        interrupted = stopReason === undefined;
        break;
      }
      const started = performance.now();
      const acc = new StepAccumulator();
      let termNorms: Record<string, number> = {};
      const locals: LocalMetrics[] = [];
      let packedTokens = 0;
      for (let k = 0; k < config.gradAccum; k++) {
        const mb = state.microBatches++;
        const epoch = Math.floor(mb / microPerEpoch);
        const pos = mb % microPerEpoch;
        const order = epochOrder(epoch);
        let indices = order.slice(pos * config.batchSize, (pos + 1) * config.batchSize);
        // Data-parallel: this rank's slice of the global micro-batch, its loss scaled by its share
        // of the pairs, so the gradients summed over the ranks are the global batch mean's.
        let share = 1;
        if (dp) {
          const { start, end } = shareOf(indices.length, dp.rank, dp.worldSize);
          share = (end - start) / indices.length;
          indices = indices.slice(start, end);
          if (indices.length === 0) {
            locals.push({ pairs: 0, values: undefined });
            continue;
          }
        }
        const batch = batchFor(indices, train, refTrain);
        // Dropout masks from the run's seed and the micro-batch's position: a resumed run draws the same ones.
        if (loraDropout) native.manualSeed(config.seed * 1_000_003 + mb);
        // Data-parallel: the last micro-batch's backward starts the gradient all-reduce bucket by bucket.
        // Each term's share of the update (grad_norm/preference, grad_norm/rationale): on the first
        // step and on each step an evaluation follows, from its first micro-batch.
        const measureTerms = k === 0 && (state.step === 0 || evaluatesAfter(state.step + 1));
        const {
          'grad_norm/preference': gradPreference,
          'grad_norm/rationale': gradRationale,
          ...values
        } = await trainer.accumulate(batch, share / config.gradAccum, dp !== undefined && k === config.gradAccum - 1, measureTerms);
        if (gradPreference !== undefined && gradRationale !== undefined)
          termNorms = { 'grad_norm/preference': gradPreference, 'grad_norm/rationale': gradRationale };
        packedTokens += batch.packedTokens;
        const row = { ...values, tokens: batch.pairTokens, rationale_tokens: batch.rationaleTokens };
        if (dp) locals.push({ pairs: indices.length, values: row });
        else acc.add(row);
      }
      if (dp) {
        const reduced = await dp.reduceMetrics(locals, SUMMED_METRICS, [packedTokens]);
        for (const m of reduced.metrics) acc.add(m);
        packedTokens = reduced.extra[0]!;
      }
      const lr = learningRateAt(state.step, {
        lr: config.lr,
        warmupSteps: config.warmupSteps,
        totalSteps,
        schedule: config.schedule,
        warmupForm: config.warmupForm,
      });
      const values = acc.result(SUMMED_METRICS) as Record<string, number> & { loss: number; tokens: number };
      // Checked before the step so that 'stop' leaves the weights as the last finite step made them;
      // the native step itself refuses a non-finite gradient (the weights never see it).
      if (!Number.isFinite(values.loss) && config.onNonfinite === 'stop') throw nonFinite(state.step + 1, 'loss', values.loss, runDir);
      const gradNorm = await trainer.step(lr, config.maxGradNorm);
      if (!Number.isFinite(gradNorm) || !Number.isFinite(values.loss)) {
        if (config.onNonfinite === 'stop') throw nonFinite(state.step + 1, 'gradient norm', gradNorm, runDir);
        log(
          `warning: step ${state.step + 1}: non-finite loss (${values.loss}) or gradient norm (${gradNorm}); the update was skipped (--on-nonfinite skip-step)`,
        );
      }
      state.step++;
      if (dp && !reportedSync) {
        reportedSync = true;
        const g = trainer.lastGradientSync;
        log(
          `data-parallel: ${dp.worldSize} ranks (${dp.group.backend === 'nccl' ? 'NCCL' : 'Gloo'}); gradients ${g.collective === 'reduce-scatter' ? `reduce-scattered in ${g.buckets} bucket(s) (${g.collectives} pieces)` : `all-reduced in ${g.buckets} bucket(s)`}, ${g.startedInBackward} started during backward`,
        );
        if (zero)
          log(
            `data-parallel: optimizer state sharded (ZeRO-1): rank 0 holds AdamW state for ${trainer.numOptimizerParameters} of ${parameters} parameters; updated parameters all-gathered`,
          );
        log(`data-parallel: ${communicationLine(g)}`);
      }
      const seconds = (performance.now() - started) / 1000;
      state.totalTokens += values.tokens;
      const row: MetricsRow = {
        ...values,
        ...(Number.isFinite(gradNorm) && Number.isFinite(values.loss) ? {} : { skipped: true }),
        ...termNorms,
        step: state.step,
        epoch: state.microBatches / microPerEpoch,
        learning_rate: lr,
        grad_norm: gradNorm,
        total_tokens: state.totalTokens,
        tokens_per_sec: (values.tokens + (values.rationale_tokens ?? 0)) / seconds,
        // The rows the policy computed, forward and backward; reference log-probs were computed
        // before training (reference.ts), so no reference work falls in the step. Data-parallel:
        // the tokens of every rank, over every rank's peak.
        // A LoRA run's base is frozen (model/flops.ts: `frozen` tokens). Not applicable (absent) where it
        // would read above 100%.
        mfu:
          modelFlopsUtilization({
            matmulParams: parameters,
            tokens: lora ? { trained: 0, reference: 0, frozen: packedTokens } : { trained: packedTokens, reference: 0 },
            seconds,
            peakFlopsPerSec: peak.flopsPerSec * (dp ? dp.worldSize : 1),
          }) ?? undefined,
      };
      metrics?.write(row);
      lastMetrics = row;
      await ask((c) => c.onStep?.(row, context()));
      progress.update(row);
      if (config.evalEvery > 0 && state.step % config.evalEvery === 0) lastEval = await evaluate(state.step);
      const stopping = await stopRequested();
      if ((config.saveEvery > 0 && state.step % config.saveEvery === 0) || stopping) {
        const dir = path.join(runDir, 'checkpoints', checkpointName(state.step));
        state.savedAt = new Date().toISOString();
        if (main) await saveCheckpoint(dir, policy, trainer, { ...state }, saveWeights, describe(stopping ? (stopReason ?? 'interrupted') : undefined));
        // ZeRO-1: gathering the optimizer state to rank 0 is a collective (only rank 0 writes).
        else if (zero) await trainer.saveOptimizerState(path.join(dir, 'optimizer.safetensors'));
        await ask((c) => c.onCheckpoint?.({ dir, step: state.step }, context()));
      }
      if (stopping && state.step < totalSteps) {
        interrupted = stopReason === undefined;
        const where = path.join(runDir, 'checkpoints', checkpointName(state.step));
        if (interrupted) log(`\ninterrupted: checkpoint written to ${where}; continue with --resume ${runDir}`);
        else log(`\nstopped at step ${state.step} of ${totalSteps}: ${stopReason}; checkpoint written to ${where}`);
        break;
      }
    }
    progress.stop();
    // A stop for any reason ends with final/ too: the weights of the step it stopped at.
    const stopped = state.step < totalSteps ? (stopReason ?? 'interrupted; continue with --resume') : undefined;
    if (!stopped && data.eval.length > 0 && (config.evalEvery === 0 || state.step % config.evalEvery !== 0)) lastEval = await evaluate(state.step);
    const finalDir = path.join(runDir, 'final');
    if (main) {
      state.savedAt = new Date().toISOString();
      const files = describe(stopped);
      await writeDirAtomic(finalDir, async (tmp) => {
        if (saveWeights) await saveWeights(tmp);
        else await policy.save(tmp, { dtype: 'float32' });
        for (const [name, text] of Object.entries(files)) writeFileAtomic(path.join(tmp, name), text);
      });
    }
    if (stopped) log(`final/ holds the weights of step ${state.step} of ${totalSteps} (${stopped}): ${finalDir}`);
    return {
      runDir,
      finalModelDir: finalDir,
      steps: state.step,
      totalSteps,
      interrupted,
      lastMetrics,
      lastEval,
      ...(stopped ? { stopped: { step: state.step, reason: stopped } } : {}),
    };
  } finally {
    progress.stop();
    metrics?.close();
    if (profile) {
      native.stopProfiler(profile);
      log(`profile written to ${profile}`);
    }
    policy.dispose();
  }
}
