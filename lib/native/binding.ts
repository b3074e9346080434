// The one place that lists every function the native addon exports, with its types.
// Keep it in step with native/napi/*.cpp (each file registers its exports).
import type { DpoVariantName, LossCatalogue, LossName, RationaleFormName, RationaleNormName } from './loss_catalogue.generated.js';

/** A class the addon exports: its instances come from the factory functions, not from `new`. */
export type NativeClass<T> = abstract new (...args: never[]) => T;
export type NativeDtype = 'float32' | 'bfloat16' | 'float16' | 'int32' | 'int64' | 'uint8';
export type NativeTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;

export interface NativeTensor {
  readonly dtype: NativeDtype;
  readonly shape: number[];
  readonly device: string;
  /** A typed array over the tensor's own storage (no copy). Uint16Array for bf16/f16. */
  data(): NativeTypedArray;
  /** Sum of all elements as a float64 (for checks). */
  sum(): number;
}

export interface RuntimeInfoRaw {
  torchVersion: string;
  torchLibDir: string;
  cxx11Abi: boolean;
  cpuCapability: string;
  intraOpThreads: number;
  interOpThreads: number;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  mpsAvailable: boolean;
  buildConfig: string;
  devices: Array<{ type: string; index: number; name: string; totalMemory: number; computeCapability: string }>;
}

export interface MatmulPeakRaw {
  flopsPerSec: number;
  seconds: number;
  size: number;
  iterations: number;
  dtype: string;
  device: string;
}

/** Model facts as config.json states them (native/napi/model.cpp). */
export interface NativeModelConfig {
  modelType: 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'phi3' | 'gemma2' | 'gemma3_text' | 'gpt2';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  ropeType: string;
  ropeTheta: number;
  slidingWindow: number;
  bosTokenId: number | null;
  padTokenId: number | null;
  eosTokenIds: number[];
  dtype: NativeDtype;
  device: string;
}

/** A packed batch (native/core/model/packed_batch.h) as int32 arrays. */
export interface NativePackedBatch {
  inputIds: Int32Array;
  positionIds: Int32Array;
  branchIds: Int32Array;
  groupOffsets: Int32Array;
  scoreRows: Int32Array;
  scoreTargets: Int32Array;
  scoreSeq: Int32Array;
  numSequences: number;
}

export interface NativeGenerateOptions {
  maxNewTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  /** Defaults to the config's eos_token_id(s). */
  eosTokenIds?: number[];
  /** Fills left padding; defaults to the config's pad_token_id, else 0. */
  padTokenId?: number;
}

/** How sequences are scored: training's compute dtype and output-layer chunk. */
export interface NativeScoringOptions {
  computeDtype?: NativeDtype;
  logitsChunk?: number;
}

/** A causal LM held by the native side; calls on one model are serialised. */
export interface NativeModel {
  config(): NativeModelConfig;
  /** Independent sequences concatenated; resolves to [sum(lengths), vocab] float32 logits. */
  logits(tokens: Int32Array, lengths: Int32Array): Promise<Float32Array>;
  /**
   * Summed log-probs and token counts per scored sequence, through training's path (fused chunked
   * output layer, autocast to computeDtype; default float32, chunk 1024): pass the run's settings to
   * get the numbers training sees.
   */
  sequenceLogprobs(batch: NativePackedBatch, options?: NativeScoringOptions): Promise<{ sum: Float32Array; count: Int32Array }>;
  /** Resolves to the new tokens of each prompt, concatenated, with their lengths. */
  generate(tokens: Int32Array, lengths: Int32Array, opts?: NativeGenerateOptions): Promise<{ tokens: Int32Array; lengths: Int32Array }>;
  save(dir: string, dtype?: NativeDtype): Promise<void>;
  dispose(): void;
}

// ---- losses (native/napi/losses.cpp) ----

/** Loss names and option values come from the core's catalogue (loss_catalogue.generated.ts). */
export type LossKindName = LossName;
export type { DpoVariantName, LossCatalogue };

/**
 * The loss options as createTrainer and preferenceLoss read them (native/napi/loss_options.h, one
 * parser): unset fields take the loss's defaults from the catalogue (γ's follows rationaleForm).
 */
export interface LossOptionsRaw {
  loss: LossKindName;
  dpoVariant?: DpoVariantName;
  beta?: number;
  gamma?: number;
  labelSmoothing?: number;
  /** SimPO's target reward margin (TRL's simpo_gamma). */
  simpoMargin?: number;
  sftWeight?: number;
  rationaleForm?: RationaleFormName;
  rationaleNorm?: RationaleNormName;
}

/** One entry per preference pair. Sums are Float32Array or Float64Array (float64 computes in float64). */
export interface PolicyLogpsRaw {
  chosenSum: Float32Array | Float64Array;
  chosenCount?: Int32Array | Float32Array | Float64Array;
  rejectedSum?: Float32Array | Float64Array;
  rejectedCount?: Int32Array | Float32Array | Float64Array;
  rationaleSum?: Float32Array | Float64Array;
  rationaleCount?: Int32Array | Float32Array | Float64Array;
}

export interface ReferenceLogpsRaw {
  chosenSum: Float32Array | Float64Array;
  rejectedSum: Float32Array | Float64Array;
}

export interface PreferenceLossRaw {
  loss: number;
  /** d loss / d each policy sum that was passed, in its dtype. */
  grads: { chosenSum: Float32Array | Float64Array; rejectedSum?: Float32Array | Float64Array; rationaleSum?: Float32Array | Float64Array };
  /** Batch means with TRL's names: rewards/chosen, rewards/accuracies, logps/chosen, nll/rationale, loss, ... */
  metrics: Record<string, number>;
}

/** max |fused − unfused| / max |unfused| for each tensor. */
export interface FusedLogprobsErrorsRaw {
  values: number;
  gradHidden: number;
  gradWeight: number;
}

/** A packed preference batch (lib/train/preference_batch.ts); arrays are borrowed without a copy. */
export interface NativePreferenceBatch extends NativePackedBatch {
  numPairs: number;
  numPairGroups: number;
  hasRejected: boolean;
  hasRationale: boolean;
  refChosen?: Float32Array;
  refRejected?: Float32Array;
}

export interface NativeTrainerOptions extends Required<LossOptionsRaw> {
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  weightDecay: number;
  computeDtype: NativeDtype;
  gradientCheckpointing: boolean;
  logitsChunk: number;
  /** Data-parallel: step() first sums the gradients over this group (each rank scales its loss by its share). */
  processGroup?: NativeProcessGroup;
  /** Gradient bucket size in bytes (default: dataParallelSupport().defaultBucketBytes). */
  bucketBytes?: number;
  /** Start each bucket's collective from backward as it fills (default true; RDPO_DDP_OVERLAP=0 turns it off). */
  overlapBackward?: boolean;
  /** ZeRO-1: each rank keeps the AdamW state of its own parameters; saveOptimizerState becomes a collective (rank 0 writes). */
  shardOptimizer?: boolean;
}

/** A data-parallel process group (native/napi/distributed.cpp); every call is a collective: all ranks make it, in the same order. */
export interface NativeProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  /** Gloo for a group on the CPU, NCCL for one on CUDA. */
  readonly backend: 'gloo' | 'nccl';
  /** Element-wise sum or max over the ranks (float64). */
  allReduce(values: Float64Array, op: 'sum' | 'max'): Promise<Float64Array>;
  /** Rejects on every rank, naming `what`, when the ranks' values differ (the lengths must agree). */
  checkSame(values: Float64Array, what: string): Promise<void>;
  /** Every rank's weights become rank 0's. */
  broadcastModel(model: NativeModel): Promise<void>;
}

export interface DataParallelSupportRaw {
  /** Built with c10d's ProcessGroupGloo (gloo headers found at build time). */
  compiled: boolean;
  backend: string;
  /** Why not, when not compiled. */
  missing: string;
  /** With selfTest: "" when a one-rank Gloo all-reduce works, else what failed. */
  selfTestError?: string;
  /** Built with c10d's ProcessGroupNCCL (CUDA LibTorch, nccl.h of torch's NCCL version found at build time). */
  nccl: boolean;
  /** The nccl.h version compiled against ("" when not built). */
  ncclVersion: string;
  /** Why NCCL is not built. */
  ncclMissing: string;
  /** The gradient bucket size the core uses when none is given (native/core/distributed/buckets.h). */
  defaultBucketBytes: number;
  /** With selfTest and NCCL built: "" when LibTorch loaded the NCCL version compiled against, else what differs. */
  ncclRuntimeError?: string;
}

export interface NativeTrainer {
  /** Forward + backward of one micro-batch (gradients accumulate); metrics are TRL-named batch means. */
  /**
   * termNorms: also return grad_norm/preference and grad_norm/rationale, the gradient norms of the two
   * parts of this micro-batch's loss (two more backward passes; nothing for a loss without a rationale term).
   */
  accumulate(batch: NativePreferenceBatch, scale: number, lastMicroBatch?: boolean, termNorms?: boolean): Promise<Record<string, number>>;
  /** Clip, AdamW step, clear gradients; resolves to the gradient norm before clipping. */
  step(lr: number, maxGradNorm: number): Promise<number>;
  saveOptimizerState(file: string): Promise<void>;
  loadOptimizerState(file: string): Promise<void>;
  /** Loss and metrics of a batch without gradients. */
  evaluate(batch: NativePreferenceBatch): Promise<Record<string, number>>;
  readonly optimizerSteps: number;
  readonly numParameters: number;
  /** Parameters whose AdamW state this rank holds (fewer than numParameters under ZeRO-1). */
  readonly numOptimizerParameters: number;
  /** What the last step's gradient synchronisation did (data-parallel; defaults before the first step). */
  readonly lastGradientSync: NativeGradientSyncStats;
}

/** One step's gradient sync (native/core/distributed/gradient_sync.h GradientSyncStats); bytes from /proc/self/io, -1: not measured. */
export interface NativeGradientSyncStats {
  buckets: number;
  startedInBackward: number;
  collective: 'all-reduce' | 'reduce-scatter';
  gradientBytesSent: number;
  parameterBytesSent: number;
  gradientElements: number;
  collectives: number;
}

/** LoRA settings for attachLora (native/napi/lora.cpp, core/model/lora/lora.h). */
export interface NativeLoraOptions {
  r: number;
  /** Default r (scaling 1). */
  alpha?: number;
  dropout?: number;
  /** Module names or suffixes (q_proj), or ['all-linear'] (the default). */
  targets?: string[];
  useRslora?: boolean;
  /** Seeds the initialisation of A. */
  seed?: number;
}

export interface NativeLoraInfo {
  r: number;
  alpha: number;
  dropout: number;
  targets: string[];
  /** Adapted linear modules. */
  modules: number;
  trainableParameters: number;
}

export interface DeviceMemoryStatsRaw {
  allocatedBytes: number;
  peakAllocatedBytes: number;
  reservedBytes: number;
  peakReservedBytes: number;
}

/** Entry points for tests and benchmarks only (native/napi/registry.h testing_exports). */
export interface NativeTestingHooks {
  // tensor bridge (native/napi/tensor.cpp)
  NativeTensor: NativeClass<NativeTensor>;
  arange(n: number, dtype?: NativeDtype): NativeTensor;
  addInPlace(array: NativeTypedArray, value: number, dtype?: NativeDtype): void;
  copyToNative(array: NativeTypedArray, shape?: number[], dtype?: NativeDtype): NativeTensor;
  bridgeStats(): { external: number; copied: number };
  // losses (native/napi/losses.cpp)
  preferenceLoss(options: LossOptionsRaw, policy: PolicyLogpsRaw, reference?: ReferenceLogpsRaw): PreferenceLossRaw;
  /** log p(targets[i] | row i) through hidden rows [N, h] and an LM head [V, h] (row-major), float32. */
  tokenLogprobs(
    hidden: Float32Array,
    weight: Float32Array,
    targets: Int32Array | BigInt64Array,
    options: { h: number; chunk?: number; fused?: boolean },
  ): Float32Array;
  /** Per-sequence sums and token counts of token log-probs (count in the log-probs' dtype). */
  reduceBySequence(
    tokenLogps: Float32Array | Float64Array,
    scoreSeq: Int32Array | BigInt64Array,
    numSequences: number,
  ): { sum: Float32Array | Float64Array; count: Float32Array | Float64Array };
  fusedLogprobsCheck(options: {
    n: number;
    h: number;
    v: number;
    chunk: number;
    dtype?: NativeDtype;
    seed?: number;
    device?: string;
    softcap?: number;
  }): FusedLogprobsErrorsRaw;
  /** CPU tensor bytes at the peak of the loss stage's forward + backward (counting allocator). */
  fusedLogprobsPeakMemory(options: {
    n: number;
    h: number;
    v: number;
    chunk?: number;
    fused: boolean;
    dtype?: NativeDtype;
  }): Promise<{ peakBytes: number; seconds: number }>;
  // LoRA (native/napi/lora.cpp): logits and d(sum(logits * probe))/d(A, B), through the adapter or an explicit W + s·B·A
  loraGrads(
    model: NativeModel,
    batch: NativePackedBatch,
    options: { mode: 'adapted' | 'merged'; checkpointing?: boolean; seed?: number },
  ): Promise<{ logits: Float32Array; grads: Float32Array }>;
}

export interface PerfOptionsRaw {
  castWeightsOnce: boolean;
  fusedRmsNorm: boolean;
  prefixAttention: boolean;
  fuseProjections: boolean;
}

export interface NativeBinding {
  readonly abiVersion: number;
  readonly testing: NativeTestingHooks;
  // runtime (native/napi/runtime_info.cpp)
  runtimeInfo(): RuntimeInfoRaw;
  setNumThreads(threads: number): void;
  /** Starts LibTorch's profiler (CPU ops of every native call until stopProfiler). */
  startProfiler(): void;
  /** Stops it and writes a Chrome trace (JSON) to `file`. */
  stopProfiler(file: string): void;
  /** The performance levers' switches (native/core/runtime/perf_options.h); for A/B runs (bench/ab.mjs). */
  perfOptions(): PerfOptionsRaw;
  setPerfOptions(options: Partial<PerfOptionsRaw>): void;
  measureMatmulPeak(size: number, iterations: number, dtype: NativeDtype, device: string): Promise<MatmulPeakRaw>;
  // accelerator state (native/napi/accelerator.cpp): memory stats are null and synchronize a no-op on cpu
  deviceMemoryStats(device: string): DeviceMemoryStatsRaw | null;
  resetDevicePeakMemory(device: string): void;
  synchronizeDevice(device: string): void;
  // the loss catalogue (native/napi/loss_options.cpp): names, needs, defaults, citations
  lossCatalogue(): LossCatalogue;
  // causal language models (native/napi/model.cpp)
  NativeModel: NativeClass<NativeModel>;
  loadModel(dir: string, opts?: { dtype?: NativeDtype; device?: string }): Promise<NativeModel>;
  // preference trainer (native/napi/preference_trainer.cpp)
  NativeTrainer: NativeClass<NativeTrainer>;
  /** Checks the options at once; resolves once the model's lock is free and the optimiser is set up. */
  createTrainer(model: NativeModel, options: NativeTrainerOptions): Promise<NativeTrainer>;
  referenceLogps(
    model: NativeModel,
    batch: NativePreferenceBatch,
    options: { computeDtype: NativeDtype; logitsChunk: number },
  ): Promise<{ chosen: Float32Array; rejected: Float32Array }>;
  // data parallelism (native/napi/distributed.cpp)
  NativeProcessGroup: NativeClass<NativeProcessGroup>;
  dataParallelSupport(selfTest?: boolean): DataParallelSupportRaw;
  /** Joins the group once all worldSize ranks met at masterAddr:masterPort (rank 0 serves the TCPStore); device cpu: Gloo, cuda:N: NCCL. */
  createProcessGroup(options: {
    rank: number;
    worldSize: number;
    masterAddr: string;
    masterPort: number;
    timeoutSeconds: number;
    device?: string;
  }): Promise<NativeProcessGroup>;
  // LoRA adapters, PEFT format (native/napi/lora.cpp); attaching freezes the base weights
  attachLora(model: NativeModel, options: NativeLoraOptions): Promise<NativeLoraInfo>;
  loadLoraAdapter(model: NativeModel, dir: string): Promise<NativeLoraInfo>;
  saveLoraAdapter(model: NativeModel, dir: string, baseModelNameOrPath?: string): Promise<void>;
  mergeLora(model: NativeModel): Promise<void>;
  /** Seeds LibTorch's default generators (LoRA dropout masks of the next micro-batch). */
  manualSeed(seed: number): void;
}
