// CUDA, exercised where a device is present (skipped with the reason elsewhere): the same model on
// the CPU and on the GPU gives the same logits, the same loss and the same first step; NCCL with one
// rank all-reduces and trains exactly as without a group. The LoRA parts live with their feature
// (test/lora*.test.ts); the Gloo data-parallel runs in test/data_parallel.test.ts.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CausalLM, loadNative } from '../lib/index.js';
import type { NativeTrainerOptions } from '../lib/native/binding.js';
import { rankDevice } from '../lib/train/data_parallel.js';
import { freePort } from '../lib/train/launcher.js';
import { packPreferenceBatch } from '../lib/train/preference_batch.js';
import { testWhen } from './helpers/data_paths.js';

const native = loadNative();
const info = native.runtimeInfo();
const cuda = info.devices.find((d) => d.type === 'cuda');
const cudaTest = testWhen(
  cuda !== undefined,
  `no CUDA device (this addon: cuda ${info.cudaCompiled ? 'built in' : 'not built in'}, devices: ${info.devices.map((d) => d.type).join(', ') || 'none'})`,
);

const dp = native.dataParallelSupport(true);
const ncclTest = testWhen(
  cuda !== undefined && dp.nccl && !dp.ncclRuntimeError,
  cuda === undefined
    ? 'NCCL with one rank: no CUDA device'
    : !dp.nccl
      ? `NCCL with one rank: this addon was built without NCCL (${dp.ncclMissing})`
      : `NCCL with one rank: ${dp.ncclRuntimeError}`,
);

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'models', 'llama');
const SEQS = [
  [4, 8, 15, 16, 23, 42, 7, 9, 11, 13, 17, 19, 21],
  [3, 5, 7, 9, 2],
];
const OPTIONS: NativeTrainerOptions = {
  loss: 'dpo',
  dpoVariant: 'sigmoid',
  rationaleForm: 'paper',
  rationaleNorm: 'sum',
  beta: 0.1,
  gamma: 0,
  labelSmoothing: 0,
  simpoMargin: 0,
  sftWeight: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEps: 1e-8,
  weightDecay: 0,
  computeDtype: 'float32',
  gradientCheckpointing: false,
  logitsChunk: 7,
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
      const batch = {
        ...packPreferenceBatch([example], { rejected: true, rationale: false }),
        refChosen: Float32Array.of(-20),
        refRejected: Float32Array.of(-18),
      };
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
    const batch = {
      ...packPreferenceBatch([example], { rejected: true, rationale: false }),
      refChosen: Float32Array.of(-20),
      refRejected: Float32Array.of(-18),
    };
    const trainer = await native.createTrainer(model.nativeHandle, { ...OPTIONS, computeDtype: 'bfloat16' });
    const metrics = await trainer.accumulate(batch, 1);
    t.true(Number.isFinite(metrics.loss as number));
    t.true(Number.isFinite(await trainer.step(1e-3, 1)));
  } finally {
    model.dispose();
  }
});

test('data-parallel ranks on CUDA take cuda:LOCAL_RANK; other devices have no backend', (t) => {
  const env = { rank: 3, worldSize: 4, localRank: 1, localWorldSize: 2, masterAddr: '127.0.0.1', masterPort: 29500 };
  t.is(rankDevice('cuda', env), 'cuda:1');
  t.is(rankDevice('cuda:0', env), 'cuda:0');
  t.is(rankDevice('cpu', env), 'cpu');
  t.throws(() => rankDevice('mps', env), { message: /cpu \(Gloo\) or cuda \(NCCL\), not mps/ });
});

test('the NCCL build status is reported, with the reason when it is missing', (t) => {
  t.is(typeof dp.nccl, 'boolean');
  if (dp.nccl) {
    t.regex(dp.ncclVersion, /^\d+\.\d+\.\d+$/);
    // Needs no GPU: the NCCL library LibTorch loads against the nccl.h compiled in.
    t.is(dp.ncclRuntimeError, '', dp.ncclRuntimeError);
  } else {
    t.true(dp.ncclMissing.length > 0);
    t.is(dp.ncclVersion, '');
  }
});

// Without a GPU, or without NCCL, a CUDA group is refused with a message (never a crash or a hang).
testWhen(cuda === undefined && dp.compiled, 'a CUDA device is present (the NCCL group is exercised below)')(
  'a CUDA process group without a GPU (or without NCCL) is refused with the reason',
  async (t) => {
    const port = await freePort();
    const err = await t.throwsAsync(
      native.createProcessGroup({ rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: port, timeoutSeconds: 20, device: 'cuda:0' }),
    );
    t.regex(
      err!.message,
      dp.nccl ? /rank 0: connecting the NCCL process group on cuda:0 .*failed/ : /needs ProcessGroupNCCL, which this rdpo-native addon was built without/,
    );
    t.log(err!.message.split('\n')[0]);
  },
);

ncclTest.serial('NCCL with one rank: all-reduces on cuda:0, and a group-backed training step equals the step without a group', async (t) => {
  const group = await native.createProcessGroup({
    rank: 0,
    worldSize: 1,
    masterAddr: '127.0.0.1',
    masterPort: await freePort(),
    timeoutSeconds: 60,
    device: 'cuda:0',
  });
  t.is(group.backend, 'nccl');
  // CPU values go to cuda:0 and back; one rank's sum and max are its own values.
  const values = Float64Array.of(1.5, -2, 3e10, 0.1);
  t.deepEqual(Array.from(await group.allReduce(values, 'sum')), Array.from(values));
  t.deepEqual(Array.from(await group.allReduce(values, 'max')), Array.from(values));
  await group.checkSame(values, 'the test values');
  const run = async (withGroup: boolean) => {
    const model = await CausalLM.load(FIXTURE, { device: 'cuda:0' });
    try {
      if (withGroup) await group.broadcastModel(model.nativeHandle);
      const batch = {
        ...packPreferenceBatch([example], { rejected: true, rationale: false }),
        refChosen: Float32Array.of(-20),
        refRejected: Float32Array.of(-18),
      };
      // A small bucket size: several buckets, started from the backward hooks (the last micro-batch).
      const trainer = await native.createTrainer(model.nativeHandle, { ...OPTIONS, ...(withGroup ? { processGroup: group, bucketBytes: 4096 } : {}) });
      const metrics = await trainer.accumulate(batch, 1, true);
      const gradNorm = await trainer.step(1e-3, 1);
      return { loss: metrics.loss as number, gradNorm, logits: (await model.logits(SEQS)).flat(), sync: trainer.lastGradientSync };
    } finally {
      model.dispose();
    }
  };
  const plain = await run(false);
  const grouped = await run(true);
  const sync = grouped.sync;
  t.true(sync.buckets > 1, `buckets ${sync.buckets}`);
  t.log(`gradient buckets ${sync.buckets}, started during backward ${sync.startedInBackward}`);
  // One rank: the all-reduce is an exact identity, so the step is the same arithmetic; the bound
  // only allows for CUDA kernels whose atomics may sum in another order from run to run.
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(b));
  t.log(
    `loss ${grouped.loss} vs ${plain.loss}; grad norm ${grouped.gradNorm} vs ${plain.gradNorm}; logits after the step ${maxRel(grouped.logits, plain.logits)}`,
  );
  t.true(rel(grouped.loss, plain.loss) <= 1e-6, `loss ${grouped.loss} vs ${plain.loss}`);
  t.true(rel(grouped.gradNorm, plain.gradNorm) <= 1e-6, `grad norm ${grouped.gradNorm} vs ${plain.gradNorm}`);
  t.true(maxRel(grouped.logits, plain.logits) <= 1e-5, `logits after the step: ${maxRel(grouped.logits, plain.logits)}`);
});
