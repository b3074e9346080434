// CUDA, exercised where a device is present (skipped with the reason elsewhere): the same model on
// the CPU and on the GPU gives the same logits, the same loss and the same first step. The LoRA
// and NCCL parts live with their features (test/lora*.test.ts, test/distributed*.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CausalLM, loadNative } from '../lib/index.js';
import type { NativeTrainerOptions } from '../lib/native/binding.js';
import { packPreferenceBatch } from '../lib/train/preference_batch.js';
import { testWhen } from './helpers/data_paths.js';

const native = loadNative();
const info = native.runtimeInfo();
const cuda = info.devices.find((d) => d.type === 'cuda');
const cudaTest = testWhen(cuda !== undefined, `no CUDA device (this addon: cuda ${info.cuda ? 'built in' : 'not built in'}, devices: ${info.devices.map((d) => d.type).join(', ') || 'none'})`);

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'models', 'llama');
const SEQS = [[4, 8, 15, 16, 23, 42, 7, 9, 11, 13, 17, 19, 21], [3, 5, 7, 9, 2]];
const OPTIONS: NativeTrainerOptions = {
  loss: 'dpo', dpoVariant: 'sigmoid', rationaleForm: 'paper', rationaleNorm: 'sum', beta: 0.1, gamma: 0, labelSmoothing: 0,
  simpoMargin: 0, sftWeight: 0, adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8, weightDecay: 0, computeDtype: 'float32',
  gradientCheckpointing: false, logitsChunk: 7,
};
const example = {
  pair: { promptIds: [5, 6, 7, 8, 9, 10, 11], chosenIds: [20, 30, 40, 50, 2], rejectedIds: [21, 31, 41, 2] },
};

function maxRel(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let m = 0;
  a.forEach((row, i) => {
    for (let k = 0; k < row.length; k++) m = Math.max(m, Math.abs(row[k]! - b[i]![k]!) / Math.max(1, Math.abs(b[i]![k]!)));
  });
  return m;
}

cudaTest.serial('CPU and CUDA give the same logits (float32; LibTorch keeps TF32 off for matmuls by default, so 1e-4 covers summation order)', async (t) => {
  const cpu = await CausalLM.load(FIXTURE, { device: 'cpu' });
  const gpu = await CausalLM.load(FIXTURE, { device: 'cuda' });
  try {
    const a = (await cpu.logits(SEQS)).flat();
    const b = (await gpu.logits(SEQS)).flat();
    t.true(maxRel(b, a) < 1e-4, `max relative difference ${maxRel(b, a)}`);
  } finally {
    cpu.dispose();
    gpu.dispose();
  }
});

cudaTest.serial('a DPO training step on CUDA follows the CPU step (loss, grad norm, then logits)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-cuda-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (device: string) => {
    const model = await CausalLM.load(FIXTURE, { device });
    try {
      const batch = { ...packPreferenceBatch([example], { rejected: true, rationale: false }), refChosen: Float32Array.of(-20), refRejected: Float32Array.of(-18) };
      const trainer = await native.createTrainer(model.nativeHandle, OPTIONS);
      const metrics = await trainer.accumulate(batch, 1);
      const gradNorm = await trainer.step(1e-3, 1);
      return { loss: metrics.loss as number, gradNorm, logits: (await model.logits(SEQS)).flat() };
    } finally {
      model.dispose();
    }
  };
  const cpu = await run('cpu');
  const gpu = await run('cuda');
  t.true(Math.abs(gpu.loss - cpu.loss) <= 1e-4 * Math.max(1, Math.abs(cpu.loss)), `loss ${gpu.loss} vs ${cpu.loss}`);
  t.true(Math.abs(gpu.gradNorm - cpu.gradNorm) <= 1e-3 * cpu.gradNorm, `grad norm ${gpu.gradNorm} vs ${cpu.gradNorm}`);
  t.true(maxRel(gpu.logits, cpu.logits) < 1e-3, `logits after the step: ${maxRel(gpu.logits, cpu.logits)}`);
});

cudaTest.serial('bf16 autocast on CUDA trains (finite loss and gradient)', async (t) => {
  const model = await CausalLM.load(FIXTURE, { device: 'cuda' });
  try {
    const batch = { ...packPreferenceBatch([example], { rejected: true, rationale: false }), refChosen: Float32Array.of(-20), refRejected: Float32Array.of(-18) };
    const trainer = await native.createTrainer(model.nativeHandle, { ...OPTIONS, computeDtype: 'bfloat16' });
    const metrics = await trainer.accumulate(batch, 1);
    t.true(Number.isFinite(metrics.loss as number));
    t.true(Number.isFinite(await trainer.step(1e-3, 1)));
  } finally {
    model.dispose();
  }
});
