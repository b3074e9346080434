// What a data-parallel run says after its first step: how the gradients were synchronized (buckets,
// how many started during backward), the ZeRO-1 sharding, and what rank 0 sent.
import type { NativeTrainer } from '../native/binding.js';
import type { DataParallel } from './data_parallel.js';

export function gradientSyncReport(dp: DataParallel, trainer: NativeTrainer, o: { zero: boolean; parameters: number }): string[] {
  const g = trainer.lastGradientSync;
  const how =
    g.collective === 'reduce-scatter' ? `reduce-scattered in ${g.buckets} bucket(s) (${g.collectives} pieces)` : `all-reduced in ${g.buckets} bucket(s)`;
  return [
    `data-parallel: ${dp.worldSize} ranks (${dp.group.backend === 'nccl' ? 'NCCL' : 'Gloo'}); gradients ${how}, ${g.startedInBackward} started during backward`,
    ...(o.zero
      ? [
          `data-parallel: optimizer state sharded (ZeRO-1): rank 0 holds AdamW state for ${trainer.numOptimizerParameters} of ${o.parameters} parameters; updated parameters all-gathered`,
        ]
      : []),
    `data-parallel: ${communicationLine(g)}`,
  ];
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
