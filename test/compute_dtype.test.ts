// `--dtype auto` and MFU's denominator (lib/model/compute_dtype.ts, lib/model/flops.ts): bf16 only where
// the device computes it natively; MFU against the peak of the dtype the matmuls run in, never above 100%.
import test from 'ava';
import { nativeBf16, peakDtype, resolveComputeDtype } from '../lib/model/compute_dtype.js';
import { modelFlopsUtilization, trainingFlops } from '../lib/model/flops.js';
import { summarize } from '../lib/bench/result.js';
import { resolveTrainConfig } from '../lib/train/config.js';

const avx2 = { cpu: { avx512bf16: false, amx: false }, devices: [] };
const sapphire = { cpu: { avx512bf16: true, amx: true }, devices: [] };
const gpus = {
  cpu: { avx512bf16: false, amx: false },
  devices: [
    { type: 'cuda', index: 0, computeCapability: '9.0' },
    { type: 'cuda', index: 1, computeCapability: '7.5' },
  ],
};
const noEnv = {};

test('auto is the default compute dtype, in the preset too', (t) => {
  t.is(resolveTrainConfig({ model: 'm', data: 'd' }).dtype, 'auto');
  t.is(resolveTrainConfig({ model: 'm', data: 'd', preset: 'paper' }).dtype, 'auto');
});

test('auto: float32 on an AVX2-only CPU, bfloat16 with AVX512-BF16/AMX, by compute capability on CUDA; it says why', (t) => {
  t.like(resolveComputeDtype('auto', 'cpu', avx2, noEnv), { dtype: 'float32' });
  t.regex(resolveComputeDtype('auto', 'cpu', avx2, noEnv).reason, /float32 \(this CPU has neither AVX512-BF16 nor AMX/);
  t.like(resolveComputeDtype('auto', 'cpu', sapphire, noEnv), { dtype: 'bfloat16' });
  t.regex(resolveComputeDtype('auto', 'cpu', sapphire, noEnv).reason, /AVX512-BF16 and AMX/);
  t.like(resolveComputeDtype('auto', 'cuda', gpus, noEnv), { dtype: 'bfloat16' });
  t.like(resolveComputeDtype('auto', 'cuda:1', gpus, noEnv), { dtype: 'float32' });
  t.regex(nativeBf16('cuda:1', gpus, noEnv).reason, /sm_75: bf16 needs sm_80/);
  t.like(resolveComputeDtype('auto', 'mps', avx2, noEnv), { dtype: 'float32' });
});

test('the dispatch variables that hold LibTorch below its bf16 kernels make bf16 emulated', (t) => {
  t.false(nativeBf16('cpu', sapphire, { ATEN_CPU_CAPABILITY: 'avx2' }).native);
  t.false(nativeBf16('cpu', sapphire, { ONEDNN_MAX_CPU_ISA: 'AVX2' }).native);
  t.true(nativeBf16('cpu', sapphire, { ONEDNN_MAX_CPU_ISA: 'AVX512_CORE_BF16', ATEN_CPU_CAPABILITY: 'avx512' }).native);
});

test('an explicit bfloat16 where it is emulated runs as asked, with a warning giving the measured factor', (t) => {
  const d = resolveComputeDtype('bfloat16', 'cpu', avx2, noEnv);
  t.is(d.dtype, 'bfloat16');
  t.regex(d.warning!, /about 15× slower than in float32/);
  t.is(resolveComputeDtype('bfloat16', 'cpu', sapphire, noEnv).warning, undefined);
  t.is(resolveComputeDtype('float32', 'cpu', sapphire, noEnv).dtype, 'float32');
});

test('MFU peak: measured in float32 for emulated bf16, in bf16 where it is native', (t) => {
  t.is(peakDtype('bfloat16', nativeBf16('cpu', avx2, noEnv)), 'float32');
  t.is(peakDtype('bfloat16', nativeBf16('cpu', sapphire, noEnv)), 'bfloat16');
  t.is(peakDtype('float32', nativeBf16('cpu', sapphire, noEnv)), 'float32');
});

test('MFU is never above 100%: a faked peak below what was done gives not applicable (null), not 656%', (t) => {
  const tokens = { trained: 1000, reference: 0 };
  const flops = trainingFlops(1e6, tokens);
  t.is(modelFlopsUtilization({ matmulParams: 1e6, tokens, seconds: 1, peakFlopsPerSec: flops * 2 }), 0.5);
  t.is(modelFlopsUtilization({ matmulParams: 1e6, tokens, seconds: 1, peakFlopsPerSec: flops }), 1);
  t.is(modelFlopsUtilization({ matmulParams: 1e6, tokens, seconds: 1, peakFlopsPerSec: flops / 6.56 }), null);
  t.is(modelFlopsUtilization({ matmulParams: 1e6, tokens, seconds: 1, peakFlopsPerSec: 0 }), null);
  // The bench reports the same rule, with the peak's dtype and how it was measured.
  const sample = { pairTokens: 1000, rationaleTokens: 0, referenceTokens: 0, referenceOutsideSeconds: 0, computedTokens: { policy: 1000, reference: 0 } };
  const r = summarize(
    { warmupSteps: 0, stepSeconds: [1], stepCpuSeconds: [1], samples: [sample] },
    {
      loss: 'dpo',
      dtype: 'bfloat16',
      device: 'cpu',
      threads: 1,
      batchSize: 2,
      precomputeRef: true,
      matmulParams: 1e6,
      matmulPeakFlops: flops / 6.56,
      matmulPeakDtype: 'float32',
      matmulPeakSource: 'faked',
      peakRssMb: 1,
      peakCudaMb: null,
      versions: {},
      loadAvg1m: 0,
    },
  );
  t.is(r.mfu, null);
  t.is(r.hardware_mfu, null);
  t.is(r.matmul_peak_dtype, 'float32');
});
