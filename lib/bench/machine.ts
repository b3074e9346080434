// What bench measures about the machine itself: the matmul peak (MFU's denominator), the process's
// peak RSS and the accelerator's peak memory.
import { loadNative } from '../native/load.js';

// The matmul peak lives with the FLOP count (model/matmul_peak.ts) so the trainer's MFU uses the same one.
export { measureMatmulPeak, type MatmulPeakOptions } from '../model/matmul_peak.js';

/** The process's resident-set high-water mark, in MB (2^20 bytes). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
}

/** Peak bytes allocated by tensors on `device` since the last reset, in MB; null on CPU. */
export function peakDeviceMb(device: string): number | null {
  const s = loadNative().deviceMemoryStats(device);
  return s ? s.peakAllocatedBytes / 2 ** 20 : null;
}

export function resetPeakDeviceMemory(device: string): void {
  loadNative().resetDevicePeakMemory(device);
}

/** Waits for the work queued on `device` (CUDA kernels run asynchronously); nothing to wait for on CPU. */
export function synchronizeDevice(device: string): void {
  loadNative().synchronizeDevice(device);
}
