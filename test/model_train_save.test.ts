// Every architecture through one training step and a save: the fused output layer's SFT loss
// equals the model's own log-probs (soft-capping included), the step moves the weights, the saved
// directory keeps the Hugging Face layout (fused Phi-3 projections, tied embeddings written once),
// reloads to the same logits, and transformers itself reads it to the same logits (when python3
// with transformers is available; scripts/fixtures/transformers_logits.py).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CausalLM, loadNative } from '../lib/index.js';
import type { NativeTrainerOptions } from '../lib/native/binding.js';
import { packPreferenceBatch } from '../lib/train/preference_batch.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'models');
const ROOT = path.join(import.meta.dirname, '..');
const MODELS = ['llama', 'qwen2', 'qwen3', 'phi3', 'phi3-legacy', 'gemma2', 'gemma3', 'gemma3-legacy'];
const SEQS = [[4, 8, 15, 16, 23, 42, 7, 9, 11, 13, 17, 19, 21]];

const out = mkdtempSync(path.join(os.tmpdir(), 'rdpo-train-save-'));
test.after.always(() => rmSync(out, { recursive: true, force: true }));

const OPTIONS: NativeTrainerOptions = {
  loss: 'sft',
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

function tensorNames(dir: string): string[] {
  const bytes = readFileSync(path.join(dir, 'model.safetensors'));
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<string, unknown>;
  return Object.keys(header).filter((n) => n !== '__metadata__');
}

function maxDiff(a: Float32Array[] | number[][], b: Float32Array[] | number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i]![k]!)))));
  return m;
}

// What each architecture saved: its directory and its logits after the step, for the transformers check.
const saved: Array<{ name: string; dir: string; logits: Float32Array[] }> = [];

for (const name of MODELS) {
  test.serial(`${name}: one SFT step (checkpointed) changes the weights; save keeps the layout and reloads to the same logits`, async (t) => {
    const model = await CausalLM.load(path.join(FIXTURES, name));
    try {
      const example = { pair: { promptIds: [5, 6, 7, 8, 9, 10, 11], chosenIds: [20, 30, 40, 50, 60, 70, 80, 90, 2] } };
      const batch = packPreferenceBatch([example], { rejected: false, rationale: false });
      const own = await model.sequenceLogprobs(batch);
      const before = (await model.logits(SEQS))[0]!.map((r) => Float32Array.from(r));
      const trainer = await loadNative().createTrainer(model.nativeHandle, { ...OPTIONS, gradientCheckpointing: true });
      const metrics = await trainer.accumulate(batch, 1);
      // SFT loss: the mean NLL of the chosen tokens, through the fused chunked output layer.
      const want = -own.sum[0]! / own.count[0]!;
      t.true(Math.abs(metrics.loss! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `loss ${metrics.loss} vs ${want}`);
      const gradNorm = await trainer.step(1e-2, 1);
      t.true(Number.isFinite(gradNorm) && gradNorm > 0, `grad norm ${gradNorm}`);
      const after = (await model.logits(SEQS))[0]!;
      t.true(maxDiff(after, before) > 1e-3, 'the step changed the logits');

      const dir = path.join(out, name);
      await model.save(dir);
      const names = tensorNames(dir);
      if (model.config.tieWordEmbeddings) t.false(names.includes('lm_head.weight'), 'tied: the head is the embedding, saved once');
      else t.true(names.includes('lm_head.weight'));
      if (model.config.modelType === 'phi3') {
        t.true(names.includes('model.layers.0.self_attn.qkv_proj.weight') && names.includes('model.layers.0.mlp.gate_up_proj.weight'));
        t.false(names.some((n) => /q_proj|gate_proj/.test(n)));
      }
      const reloaded = await CausalLM.load(dir);
      t.deepEqual(await reloaded.logits(SEQS), [after]);
      reloaded.dispose();
      saved.push({ name, dir, logits: after.map((r) => Float32Array.from(r)) });
    } finally {
      model.dispose();
    }
  });
}

test.serial("bfloat16 compute (autocast over float32 weights): the first step's loss stays near float32 for every architecture", async (t) => {
  for (const name of MODELS) {
    const example = { pair: { promptIds: [5, 6, 7, 8, 9, 10, 11], chosenIds: [20, 30, 40, 50, 60, 70, 80, 90, 2] } };
    const batch = packPreferenceBatch([example], { rejected: false, rationale: false });
    const losses: number[] = [];
    for (const computeDtype of ['float32', 'bfloat16'] as const) {
      const model = await CausalLM.load(path.join(FIXTURES, name));
      const trainer = await loadNative().createTrainer(model.nativeHandle, { ...OPTIONS, computeDtype });
      losses.push((await trainer.accumulate(batch, 1)).loss!);
      const gradNorm = await trainer.step(1e-2, 1);
      t.true(Number.isFinite(gradNorm) && gradNorm > 0, `${name} ${computeDtype}: grad norm ${gradNorm}`);
      model.dispose();
    }
    const rel = Math.abs(losses[1]! - losses[0]!) / losses[0]!;
    t.log(`${name}: SFT loss float32 ${losses[0]!.toFixed(5)}, bfloat16 ${losses[1]!.toFixed(5)}`);
    t.true(rel < 0.02, `${name}: bf16 loss ${losses[1]} vs float32 ${losses[0]}`);
  }
});

const transformersMissing = spawnSync('python3', ['-c', 'import transformers'], { encoding: 'utf8' }).status !== 0;
(transformersMissing ? test.skip : test.serial)(
  `transformers loads every saved directory to the same logits${transformersMissing ? ' (skipped: python3 with transformers is not available here)' : ''}`,
  (t) => {
    t.is(saved.length, MODELS.length);
    const res = spawnSync('python3', [path.join(ROOT, 'scripts', 'fixtures', 'transformers_logits.py')], {
      input: JSON.stringify(saved.map((s) => ({ dir: s.dir, tokens: SEQS }))),
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    t.is(res.status, 0, res.stderr);
    const theirs = JSON.parse(res.stdout) as number[][][][];
    saved.forEach((s, i) => {
      const d = maxDiff(s.logits, theirs[i]![0]!);
      t.log(`${s.name}: max |logit diff| vs transformers ${d.toExponential(2)}`);
      t.true(d <= 1e-4, `${s.name}: max |logit diff| ${d}`);
    });
  },
);
