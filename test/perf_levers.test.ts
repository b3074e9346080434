// The performance levers (native/core/runtime/perf_options.h) change speed, not results: the trainer with
// each lever on and off, same data and seed, logs the same losses, log-probs and gradient norms.
// Cast-once bf16 weights make the same round-to-nearest casts as autocast, so bf16 runs agree
// exactly; the fused RMSNorm sums in another order, so float32 runs agree to float32 rounding.
// Gradient accumulation over several micro-batches exercises the cast copies' reuse.
import test from 'ava';
import path from 'node:path';
import type { TrainConfigInput } from '../lib/train/config.js';
import type { MetricsRow } from '../lib/train/metrics.js';
import { train } from '../lib/train/trainer.js';
import { loadNative } from '../lib/native/load.js';
import { policyDir, refDir, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('perf-levers');
const native = loadNative();
const defaults = native.perfOptions();
test.after.always(() => {
  native.setPerfOptions(defaults);
  box.cleanup();
});

let runs = 0;
async function run(
  config: Partial<TrainConfigInput>,
  levers: { castWeightsOnce: boolean; fusedRmsNorm: boolean; prefixAttention: boolean; fuseProjections?: boolean },
): Promise<MetricsRow[]> {
  native.setPerfOptions(levers);
  const rows: MetricsRow[] = [];
  try {
    await train(
      {
        model: policyDir,
        refModel: refDir,
        data: box.data,
        out: path.join(box.dir, `run-${runs++}`),
        loss: 'rdpo',
        batchSize: 4,
        gradAccum: 2,
        maxSteps: 3,
        lr: 1e-3,
        warmupSteps: 0,
        maxLength: 256,
        ...config,
      } as TrainConfigInput,
      { onStep: (r) => rows.push(r), log: () => {} },
    );
  } finally {
    native.setPerfOptions(defaults);
  }
  return rows;
}

const KEYS = ['loss', 'grad_norm', 'logps/chosen', 'logps/rejected', 'logps/rationale', 'rewards/margins'];

function compare(t: import('ava').ExecutionContext, a: MetricsRow[], b: MetricsRow[], rel: number) {
  t.is(a.length, 3);
  t.is(b.length, a.length);
  for (let i = 0; i < a.length; i++) {
    for (const k of KEYS) {
      const x = (a[i] as Record<string, number>)[k]!,
        y = (b[i] as Record<string, number>)[k]!;
      t.true(Number.isFinite(x) && Number.isFinite(y), `step ${i + 1} ${k}: ${x} vs ${y}`);
      t.true(Math.abs(x - y) <= rel * Math.max(1, Math.abs(x)), `step ${i + 1} ${k}: lever off ${x}, on ${y}`);
    }
  }
}

test.serial('only the levers that measured faster are on by default', (t) => {
  t.deepEqual(defaults, { castWeightsOnce: false, fusedRmsNorm: true, prefixAttention: false, fuseProjections: false });
  t.throws(() => native.setPerfOptions({ nope: true } as never), { message: /unknown option 'nope'/ });
});

test.serial('bf16: casting weights once per step gives the same steps as autocast casting per forward', async (t) => {
  const off = await run({ dtype: 'bfloat16' }, { castWeightsOnce: false, fusedRmsNorm: true, prefixAttention: true });
  const on = await run({ dtype: 'bfloat16' }, { castWeightsOnce: true, fusedRmsNorm: true, prefixAttention: true });
  compare(t, off, on, 1e-6);
});

test.serial('float32: the fused RMSNorm gives the same steps as the composite one, to float32 rounding', async (t) => {
  const off = await run({ dtype: 'float32' }, { castWeightsOnce: true, fusedRmsNorm: false, prefixAttention: true });
  const on = await run({ dtype: 'float32' }, { castWeightsOnce: true, fusedRmsNorm: true, prefixAttention: true });
  compare(t, off, on, 2e-5);
});

test.serial('float32: prefix attention gives the same steps as the masked group attention, to float32 rounding', async (t) => {
  const off = await run({ dtype: 'float32' }, { castWeightsOnce: true, fusedRmsNorm: true, prefixAttention: false });
  const on = await run({ dtype: 'float32' }, { castWeightsOnce: true, fusedRmsNorm: true, prefixAttention: true });
  compare(t, off, on, 2e-5);
});

test.serial('float32: fused q/k/v and gate/up matmuls give the same steps as the separate ones, to float32 rounding', async (t) => {
  const off = await run({ dtype: 'float32' }, { castWeightsOnce: false, fusedRmsNorm: true, prefixAttention: false, fuseProjections: false });
  const on = await run({ dtype: 'float32' }, { castWeightsOnce: false, fusedRmsNorm: true, prefixAttention: false, fuseProjections: true });
  compare(t, off, on, 2e-5);
});
