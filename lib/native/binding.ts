// The one place that lists every function the native addon exports, with its types.
// Keep it in step with native/napi/*.cpp (each file registers its exports).

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
  modelType: 'llama' | 'mistral' | 'qwen2' | 'gpt2';
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

/** A packed batch (native/core/packed_batch.h) as int32 arrays. */
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
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  eosTokenIds?: number[];
  padTokenId?: number;
}

/** A causal LM held by the native side; calls on one model are serialised. */
export interface NativeModel {
  config(): NativeModelConfig;
  /** Independent sequences concatenated; resolves to [sum(lengths), vocab] float32 logits. */
  logits(tokens: Int32Array, lengths: Int32Array): Promise<Float32Array>;
  sequenceLogprobs(batch: NativePackedBatch): Promise<{ sum: Float32Array; count: Int32Array }>;
  /** Resolves to the new tokens of each prompt, concatenated, with their lengths. */
  generate(tokens: Int32Array, lengths: Int32Array, opts?: NativeGenerateOptions): Promise<{ tokens: Int32Array; lengths: Int32Array }>;
  save(dir: string, dtype?: NativeDtype): Promise<void>;
  dispose(): void;
}

export interface NativeBinding {
  readonly abiVersion: number;
  // runtime (native/napi/runtime_info.cpp)
  runtimeInfo(): RuntimeInfoRaw;
  setNumThreads(threads: number): void;
  measureMatmulPeak(size: number, iterations: number, dtype: NativeDtype, device: string): Promise<MatmulPeakRaw>;
  // tensor bridge (native/napi/tensor.cpp)
  NativeTensor: abstract new (...args: never[]) => NativeTensor;
  arange(n: number, dtype?: NativeDtype): NativeTensor;
  addInPlace(array: NativeTypedArray, value: number, dtype?: NativeDtype): void;
  copyToNative(array: NativeTypedArray, shape?: number[], dtype?: NativeDtype): NativeTensor;
  bridgeStats(): { external: number; copied: number };
  // causal language models (native/napi/model.cpp)
  NativeModel: abstract new (...args: never[]) => NativeModel;
  loadModel(dir: string, opts?: { dtype?: NativeDtype; device?: string }): Promise<NativeModel>;
}
