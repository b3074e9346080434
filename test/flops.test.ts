// One MFU computation: model/flops.ts is the home of the FLOP convention and of MFU;
// the trainer's per-step `mfu` and the bench's `mfu`/`hardware_mfu` both come from it, with N
// counted from the loaded model's shapes (checked here against the weight files themselves).
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CausalLM } from '../lib/model/causal_lm.js';
import { matmulParams, modelFlopsUtilization, readDecoderShape, trainingFlops } from '../lib/model/flops.js';
import { summarize } from '../lib/bench/result.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = path.join(repo, 'test', 'fixtures', 'models');

/** Parameters of the 2-D weights that take part in matmuls, read from the safetensors header. */
function matmulParamsOfWeights(dir: string, vocab: number, hidden: number): number {
  const buf = readFileSync(path.join(dir, 'model.safetensors'));
  const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString('utf8')) as Record<string, { shape?: number[] }>;
  let n = 0;
  let head = false;
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__' || e.shape?.length !== 2) continue;
    if (/embed_tokens|wte|wpe/.test(name)) continue; // lookups, not matmuls
    if (/lm_head/.test(name)) head = true;
    n += e.shape[0]! * e.shape[1]!;
  }
  return head ? n : n + vocab * hidden; // a tied head multiplies by the embedding matrix
}

for (const name of ['llama', 'gpt2', 'gemma2', 'qwen2', 'phi3']) {
  test(`${name}: N of the FLOP convention, from the loaded config, is the matmul weights of the file`, async (t) => {
    const dir = path.join(FIXTURES, name);
    const model = await CausalLM.load(dir);
    try {
      const c = model.config;
      t.is(matmulParams(c), matmulParamsOfWeights(dir, c.vocabSize, c.hiddenSize));
      if (name === 'llama') t.is(matmulParams(c), matmulParams(readDecoderShape(dir)), 'the bench reads the same N from config.json');
    } finally {
      model.dispose();
    }
  });
}

test('MFU: the convention FLOPs over the window and the peak; the bench reports exactly that', (t) => {
  const tokens = { trained: 1800, reference: 1550 };
  const mfu = modelFlopsUtilization({ matmulParams: 1000, tokens, seconds: 9, peakFlopsPerSec: 1e9 });
  t.is(mfu, trainingFlops(1000, tokens) / 9 / 1e9);
  const sample = { pairTokens: 1550, rationaleTokens: 250, referenceTokens: 1550, referenceOutsideSeconds: 0, computedTokens: { policy: 900, reference: 700 } };
  const r = summarize(
    { warmupSteps: 0, stepSeconds: [9], stepCpuSeconds: [9], samples: [sample] },
    {
      loss: 'rdpo',
      dtype: 'float32',
      device: 'cpu',
      threads: 1,
      batchSize: 2,
      precomputeRef: true,
      matmulParams: 1000,
      matmulPeakFlops: 1e9,
      peakRssMb: 1,
      peakCudaMb: null,
      versions: {},
      loadAvg1m: 0,
    },
  );
  t.is(r.mfu, mfu);
  t.is(r.hardware_mfu, modelFlopsUtilization({ matmulParams: 1000, tokens: { trained: 900, reference: 700 }, seconds: 9, peakFlopsPerSec: 1e9 }));
});

test('the trainer and the bench compute MFU only through model/flops.ts', (t) => {
  for (const file of ['lib/train/training_run.ts', 'lib/bench/result.ts']) {
    const src = readFileSync(path.join(repo, file), 'utf8');
    t.regex(src, /import \{[^}]*\bmodelFlopsUtilization\b[^}]*\} from '\.\.\/model\/flops\.js'/, file);
    // No FLOP arithmetic of its own: every `mfu:` is the shared function.
    // (the formatter may put the value on the next line: `mfu:` is read with what follows it)
    const uses = [...src.matchAll(/\bmfu:\s*(?!number\b|null\b)(\S[^,;]*)/g)].map((m) => m[1]!);
    t.true(uses.length > 0, `${file} computes an mfu`);
    // (where no peak is known the value is absent: `peak === undefined ? undefined : modelFlopsUtilization(…)`)
    for (const use of uses) t.regex(use, /^(?:\w+ === undefined\s*\?\s*undefined\s*:\s*\(?)?modelFlopsUtilization\(/, `${file}: mfu: ${use.trim()}`);
  }
  t.notRegex(readFileSync(path.join(repo, 'lib/train/training_run.ts'), 'utf8'), /numParameters/, 'the trainer counts N as the bench does');
});
