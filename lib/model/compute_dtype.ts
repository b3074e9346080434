// The compute dtype for a device: `auto` is bf16 only where the device computes it natively (CUDA
// sm_80+, CPUs with AVX512-BF16 or AMX that LibTorch dispatches to), float32 elsewhere. On a CPU that
// emulates bf16 a training step is about 15× slower than in float32 (docs/benchmarks.md: 87 s against
// 5.8 s per step on a 2-core AVX2-only EPYC, for TRL and for us alike), so bf16 there is never chosen
// silently.

import { cpuBf16 } from '../native/runtime.js';

export const COMPUTE_DTYPE_CHOICES = ['auto', 'float32', 'bfloat16'] as const;
export type ComputeDtypeChoice = (typeof COMPUTE_DTYPE_CHOICES)[number];
export type ComputeDtype = Exclude<ComputeDtypeChoice, 'auto'>;

/** What the decision needs to know of the machine (DoctorReport has it; tests fake it). */
export interface DtypeMachine {
  cpu: { avx512bf16: boolean; amx: boolean };
  devices: ReadonlyArray<{ type: string; index: number; computeCapability?: string }>;
}

export interface NativeBf16 {
  native: boolean;
  reason: string;
}

/** Measured on a 2-core AVX2-only AMD EPYC, the bench model, DPO batch 2 (docs/benchmarks.md). */
export const EMULATED_BF16_SLOWDOWN = 15;

/** Whether `device` ("cpu", "cuda", "cuda:N", "mps") computes bf16 natively, and why. */
export function nativeBf16(device: string, machine: DtypeMachine, env: NodeJS.ProcessEnv = process.env): NativeBf16 {
  if (device.startsWith('cuda')) {
    const index = device.includes(':') ? Number(device.split(':')[1]) : 0;
    const d = machine.devices.find((x) => x.type === 'cuda' && x.index === index);
    if (!d?.computeCapability) return { native: false, reason: `${device}: compute capability unknown` };
    const major = Number(d.computeCapability.split('.')[0]);
    return major >= 8
      ? { native: true, reason: `${device} is sm_${d.computeCapability.replace('.', '')} (bf16 tensor cores from sm_80)` }
      : { native: false, reason: `${device} is sm_${d.computeCapability.replace('.', '')}: bf16 needs sm_80 or newer` };
  }
  if (device === 'mps') return { native: false, reason: 'mps: bf16 support varies by chip and macOS; float32 is the safe choice' };
  return cpuBf16(machine.cpu, env);
}

export interface ComputeDtypeDecision {
  dtype: ComputeDtype;
  /** One line for the log: what was picked and why. */
  reason: string;
  /** Set when an explicit bfloat16 will run emulated. */
  warning?: string;
  native: NativeBf16;
}

export function resolveComputeDtype(
  requested: ComputeDtypeChoice,
  device: string,
  machine: DtypeMachine,
  env: NodeJS.ProcessEnv = process.env,
): ComputeDtypeDecision {
  const native = nativeBf16(device, machine, env);
  if (requested === 'auto') {
    return native.native
      ? { dtype: 'bfloat16', reason: `dtype auto: bfloat16 (${native.reason})`, native }
      : { dtype: 'float32', reason: `dtype auto: float32 (${native.reason})`, native };
  }
  if (requested === 'bfloat16' && !native.native) {
    return {
      dtype: 'bfloat16',
      reason: 'dtype bfloat16 (as asked)',
      warning:
        `--dtype bfloat16 on ${device}: ${native.reason}; a training step runs about ${EMULATED_BF16_SLOWDOWN}× slower than in float32 ` +
        `(measured on an AVX2-only CPU, docs/benchmarks.md). Use --dtype auto or float32 unless you need bf16's numerics.`,
      native,
    };
  }
  return { dtype: requested, reason: `dtype ${requested} (as asked)`, native };
}

/**
 * The dtype MFU's peak is measured in: the one the matmuls really run in. Emulated bf16 widens its
 * operands to float32 and multiplies there, so its "peak" would be the emulation's own slow speed and
 * an MFU against it can read 656%; the float32 peak is the hardware's real ceiling for that work.
 */
export function peakDtype(dtype: ComputeDtype, native: NativeBf16): ComputeDtype {
  return dtype === 'bfloat16' && !native.native ? 'float32' : dtype;
}
