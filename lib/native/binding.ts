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
}
