// Runtime report used by `rdpo-native doctor` and stamped into run configs.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataParallelSupportRaw } from './binding.js';
import { loadNative, loadedAddonPath, packageRoot } from './load.js';

export interface DeviceInfo {
  type: string;
  index: number;
  name: string;
  totalMemoryBytes: number;
  computeCapability?: string;
}

export interface DoctorReport {
  version: string;
  node: string;
  platform: string;
  torch: string;
  torchPath: string;
  cxx11Abi: boolean;
  cpu: { model: string; cores: number; capability: string; avx2: boolean; avx512: boolean; avx512bf16: boolean; amx: boolean };
  threads: number;
  interOpThreads: number;
  cuda: boolean;
  cudaCompiled: boolean;
  mps: boolean;
  devices: DeviceInfo[];
  /**
   * Data-parallel training (lib/train/data_parallel.ts): available when built with Gloo and a one-rank
   * all-reduce works. `backends` lists what was compiled; `nccl` says whether CUDA ranks can use
   * ProcessGroupNCCL (its nccl.h version, or why not).
   */
  dataParallel: {
    available: boolean;
    backend: string;
    reason: string;
    backends: string[];
    nccl: { available: boolean; version: string; reason: string };
    /** Where the build took the gloo headers from (scripts/find-gloo.mjs via build/gloo.json), when known. */
    glooHeaders?: string;
  };
  addonPath: string;
  /** Whether the CPU computes bf16 natively (model/compute_dtype.ts decides; `--dtype auto` follows it). */
  nativeBf16: { native: boolean; reason: string };
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The CPU's feature flags (/proc/cpuinfo; empty where there is none). */
export function cpuFlags(): Set<string> {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('flags'));
    return new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

// Whether LibTorch computes bf16 natively on this CPU (the CPU half of model/compute_dtype.ts's
// nativeBf16): AVX512-BF16 or AMX in the CPU, and neither ATEN_CPU_CAPABILITY nor ONEDNN_MAX_CPU_ISA
// holding the kernels below them.
const ATEN_BELOW_AVX512 = new Set(['default', 'avx2']);
const ONEDNN_BF16 =
  /^(all|avx512_core_bf16|avx512_core_amx|avx512_core_amx_fp16|avx10_1_512|avx10_1_512_amx|avx10_1_512_amx_fp16|avx10_2_512|avx10_2_512_amx_2)$/i;
export function cpuBf16(cpu: { avx512bf16: boolean; amx: boolean }, env: NodeJS.ProcessEnv = process.env): { native: boolean; reason: string } {
  const { avx512bf16: bf16, amx } = cpu;
  if (!bf16 && !amx) return { native: false, reason: 'this CPU has neither AVX512-BF16 nor AMX: bf16 is emulated' };
  const aten = env.ATEN_CPU_CAPABILITY?.toLowerCase();
  if (aten && ATEN_BELOW_AVX512.has(aten))
    return { native: false, reason: `ATEN_CPU_CAPABILITY=${env.ATEN_CPU_CAPABILITY} keeps LibTorch below its AVX-512 kernels: bf16 is emulated` };
  const isa = env.ONEDNN_MAX_CPU_ISA ?? env.DNNL_MAX_CPU_ISA;
  if (isa && !ONEDNN_BF16.test(isa)) return { native: false, reason: `ONEDNN_MAX_CPU_ISA=${isa} keeps oneDNN from the bf16 instructions: bf16 is emulated` };
  return { native: true, reason: `this CPU has ${[bf16 && 'AVX512-BF16', amx && 'AMX'].filter(Boolean).join(' and ')}` };
}

function glooHeaders(): { glooHeaders?: string } {
  try {
    const g = JSON.parse(readFileSync(path.join(packageRoot, 'build', 'gloo.json'), 'utf8')) as { dir: string | null; source?: string; reason?: string };
    return { glooHeaders: g.dir ? `${g.dir} (${g.source})` : `none: ${g.reason}` };
  } catch {
    return {};
  }
}

function dataParallelReport(s: DataParallelSupportRaw): DoctorReport['dataParallel'] {
  const backends = [...(s.compiled ? ['gloo'] : []), ...(s.nccl ? ['nccl'] : [])];
  const nccl = !s.nccl
    ? { available: false, version: '', reason: s.ncclMissing }
    : s.ncclRuntimeError
      ? { available: false, version: s.ncclVersion, reason: `built with nccl.h ${s.ncclVersion}, but ${s.ncclRuntimeError}` }
      : { available: true, version: s.ncclVersion, reason: '' };
  if (!s.compiled) return { available: false, backend: '', reason: s.missing, backends, nccl };
  if (s.selfTestError)
    return {
      available: false,
      backend: s.backend,
      reason: `built with Gloo, but ${s.selfTestError} (the gloo headers at build time may not match LibTorch's gloo)`,
      backends,
      nccl,
    };
  return { available: true, backend: s.backend, reason: '', backends, nccl };
}

/** The CPU's bf16 features and the devices with their compute capability: what `dtype auto` decides on (model/compute_dtype.ts). */
export function dtypeMachine(): { cpu: { avx512bf16: boolean; amx: boolean }; devices: Array<{ type: string; index: number; computeCapability?: string }> } {
  const flags = cpuFlags();
  const info = loadNative().runtimeInfo();
  return {
    cpu: { avx512bf16: flags.has('avx512_bf16'), amx: flags.has('amx_bf16') },
    devices: info.devices.map((d) => ({ type: d.type, index: d.index, ...(d.computeCapability ? { computeCapability: d.computeCapability } : {}) })),
  };
}

export function doctorReport(): DoctorReport {
  const native = loadNative();
  const info = native.runtimeInfo();
  const flags = cpuFlags();
  return {
    version: packageVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    torch: info.torchVersion,
    torchPath: info.torchLibDir,
    cxx11Abi: info.cxx11Abi,
    cpu: {
      model: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      capability: info.cpuCapability,
      avx2: flags.has('avx2'),
      avx512: flags.has('avx512f'),
      avx512bf16: flags.has('avx512_bf16'),
      amx: flags.has('amx_bf16'),
    },
    threads: info.intraOpThreads,
    interOpThreads: info.interOpThreads,
    cuda: info.cudaAvailable,
    cudaCompiled: info.cudaCompiled,
    mps: info.mpsAvailable,
    devices: info.devices.map((d) => ({
      type: d.type,
      index: d.index,
      name: d.name,
      totalMemoryBytes: d.totalMemory,
      ...(d.computeCapability ? { computeCapability: d.computeCapability } : {}),
    })),
    dataParallel: { ...dataParallelReport(native.dataParallelSupport(true)), ...glooHeaders() },
    addonPath: loadedAddonPath() ?? '',
    nativeBf16: cpuBf16({ avx512bf16: flags.has('avx512_bf16'), amx: flags.has('amx_bf16') }),
  };
}
