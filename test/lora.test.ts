// LoRA (native/core/model/lora/lora.h, lib/model/lora.ts) without Python: the adapted forward and the
// adapter gradients against plain autograd through an explicit W + s·B·A; gradient checkpointing
// (with dropout replayed); the base-model reference; save → load round trips with PEFT's key
// names; merging. The adapters with non-zero B come from test/fixtures/lora (PEFT wrote them:
// scripts/make_peft_fixture.py).
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CausalLM, packPlainSequences } from '../lib/index.js';
import { attachLora, loadAdapter, mergeAdapter, saveAdapter } from '../lib/model/lora.js';
import { loadNative } from '../lib/native/load.js';
import { nativeTrainerOptions, resolveTrainConfig } from '../lib/train/config.js';
import { packPreferenceBatch } from '../lib/train/preference_batch.js';
import { readF32Safetensors } from './helpers/safetensors_read.js';
import { repoRoot } from './helpers/cli.js';

const MODELS = path.join(repoRoot, 'test', 'fixtures', 'models');
const ADAPTERS = path.join(repoRoot, 'test', 'fixtures', 'lora');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'rdpo-lora-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

const SEQS = [
  [5, 17, 42, 99, 7, 23],
  [11, 3, 250, 64, 8],
  [200, 150, 100, 50, 25, 12, 6],
];

// Base models and how each gets a non-trivial adapter: a PEFT-written one (non-zero B) or a fresh one.
const CASES: Array<{ name: string; adapter?: string }> = [
  { name: 'tiny-chat', adapter: 'tiny-chat' },
  { name: 'phi3', adapter: 'phi3' },
  { name: 'gpt2', adapter: 'gpt2' },
  { name: 'gemma2' },
  { name: 'qwen3' },
];

for (const c of CASES) {
  test(`${c.name}: the adapted forward and the adapter gradients equal autograd through W + s·B·A`, async (t) => {
    const model = await CausalLM.load(path.join(MODELS, c.name));
    try {
      const info = c.adapter ? await loadAdapter(model, path.join(ADAPTERS, c.adapter)) : await attachLora(model, { r: 3, alpha: 6, seed: 5 });
      t.true(info.modules > 0 && info.trainableParameters > 0);
      const batch = packPlainSequences(SEQS);
      const testing = loadNative().testing;
      const adapted = await testing.loraGrads(model.nativeHandle, batch, { mode: 'adapted', seed: 3 });
      const merged = await testing.loraGrads(model.nativeHandle, batch, { mode: 'merged', seed: 3 });
      const logitDiff = maxAbsDiff(adapted.logits, merged.logits);
      const gradDiff = maxAbsDiff(adapted.grads, merged.grads) / Math.max(1e-12, maxAbs(merged.grads));
      t.log(
        `${info.modules} modules, ${info.trainableParameters} adapter parameters; |logit diff| ${logitDiff.toExponential(2)}, relative |grad diff| ${gradDiff.toExponential(2)}`,
      );
      t.true(maxAbs(merged.grads) > 0, 'the gradients are not all zero');
      t.true(logitDiff <= 1e-4, `logits differ by ${logitDiff}`);
      t.true(gradDiff <= 1e-4, `gradients differ by ${gradDiff} (relative to the largest)`);
      // Gradient checkpointing recomputes each layer in backward: same gradients.
      const checkpointed = await testing.loraGrads(model.nativeHandle, batch, { mode: 'adapted', checkpointing: true, seed: 3 });
      t.true(maxAbsDiff(checkpointed.grads, adapted.grads) <= 1e-6 * Math.max(1, maxAbs(adapted.grads)), 'checkpointed gradients differ');
    } finally {
      model.dispose();
    }
  });
}

test('with dropout, a checkpointed layer replays the same masks: gradients equal the plain run of the same seed', async (t) => {
  const model = await CausalLM.load(path.join(MODELS, 'tiny-chat'));
  try {
    await attachLora(model, { r: 4, alpha: 8, dropout: 0.3, seed: 1 });
    const batch = packPlainSequences(SEQS);
    const testing = loadNative().testing;
    const plain = await testing.loraGrads(model.nativeHandle, batch, { mode: 'adapted', seed: 11 });
    const again = await testing.loraGrads(model.nativeHandle, batch, { mode: 'adapted', seed: 11 });
    const checkpointed = await testing.loraGrads(model.nativeHandle, batch, { mode: 'adapted', checkpointing: true, seed: 11 });
    const otherSeed = await testing.loraGrads(model.nativeHandle, batch, { mode: 'adapted', seed: 12 });
    const scale = Math.max(1e-12, maxAbs(plain.grads));
    t.is(maxAbsDiff(plain.grads, again.grads), 0, 'same seed, same masks');
    t.true(maxAbsDiff(plain.grads, otherSeed.grads) / scale > 1e-3, 'dropout is active: another seed gives other gradients');
    const diff = maxAbsDiff(plain.grads, checkpointed.grads) / scale;
    t.true(diff <= 1e-6, `checkpointed gradients differ by ${diff} (relative)`);
  } finally {
    model.dispose();
  }
});

test('a fresh adapter changes nothing (B = 0), freezes the base, and names its tensors as PEFT does', async (t) => {
  const model = await CausalLM.load(path.join(MODELS, 'tiny-chat'));
  try {
    const before = await model.logits(SEQS);
    const info = await attachLora(model, { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], seed: 2 });
    // 2 layers × (q: 4·64 + 64·4, v: 4·64 + 32·4)
    t.is(info.modules, 4);
    t.is(info.trainableParameters, 2 * (4 * 64 + 64 * 4) + 2 * (4 * 64 + 32 * 4));
    const after = await model.logits(SEQS);
    t.is(
      maxAbsDiff(
        before.flat().flatMap((r) => Array.from(r)),
        after.flat().flatMap((r) => Array.from(r)),
      ),
      0,
    );
    const dir = path.join(tmp, 'fresh');
    await saveAdapter(model, dir, { baseModel: 'tiny-chat' });
    const config = JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    t.is(config.peft_type, 'LORA');
    t.is(config.task_type, 'CAUSAL_LM');
    t.is(config.r, 4);
    t.is(config.lora_alpha, 8);
    t.deepEqual(config.target_modules, ['q_proj', 'v_proj']);
    t.is(config.base_model_name_or_path, 'tiny-chat');
    const tensors = readF32Safetensors(path.join(dir, 'adapter_model.safetensors'));
    t.true(tensors.has('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'));
    t.true(tensors.has('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight'));
    t.is(tensors.size, 8);
    t.true(existsSync(path.join(dir, 'tokenizer.json')), 'tokenizer files travel with the adapter');
    // kaiming-uniform A: U(-1/sqrt(64), 1/sqrt(64)); B zero.
    const a = tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!;
    t.true(maxAbs(a) <= 1 / 8 && maxAbs(a) > 0.05);
    t.is(maxAbs(tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight')!), 0);
  } finally {
    model.dispose();
  }
});

test('unknown targets and adapters for another base are refused with the names', async (t) => {
  const model = await CausalLM.load(path.join(MODELS, 'tiny-chat'));
  try {
    const err = await t.throwsAsync(attachLora(model, { r: 2, targets: ['qkv_proj'] }));
    t.regex(err!.message, /qkv_proj.*match no linear module.*q_proj/);
    const wrong = await t.throwsAsync(loadAdapter(model, path.join(ADAPTERS, 'phi3')));
    t.regex(wrong!.message, /adapter_model\.safetensors: module '.*(qkv|gate_up)_proj' is not a linear module of this llama model/);
  } finally {
    model.dispose();
  }
});

for (const name of ['tiny-chat', 'phi3', 'gpt2']) {
  test(`${name}: save → load gives identical outputs; merge equals base + adapter`, async (t) => {
    const base = path.join(MODELS, name);
    const model = await CausalLM.load(base);
    try {
      await loadAdapter(model, path.join(ADAPTERS, name));
      const adapted = (await model.logits(SEQS)).flat().flatMap((r) => Array.from(r));
      const dir = path.join(tmp, `${name}-roundtrip`);
      await saveAdapter(model, dir);
      const again = await CausalLM.load(base);
      try {
        await loadAdapter(again, dir);
        const reloaded = (await again.logits(SEQS)).flat().flatMap((r) => Array.from(r));
        t.is(maxAbsDiff(adapted, reloaded), 0, 'identical after a round trip');
      } finally {
        again.dispose();
      }
      // Written tensors are PEFT's own, bit for bit.
      const ours = readF32Safetensors(path.join(dir, 'adapter_model.safetensors'));
      const peft = readF32Safetensors(path.join(ADAPTERS, name, 'adapter_model.safetensors'));
      t.deepEqual([...ours.keys()].sort(), [...peft.keys()].sort());
      for (const [k, v] of peft) t.is(maxAbsDiff(ours.get(k)!, v), 0, k);

      await mergeAdapter(model);
      const mergedDir = path.join(tmp, `${name}-merged`);
      await model.save(mergedDir);
      const merged = await CausalLM.load(mergedDir);
      try {
        const m = (await merged.logits(SEQS)).flat().flatMap((r) => Array.from(r));
        const diff = maxAbsDiff(adapted, m);
        t.log(`merged vs adapted: max |logit diff| ${diff.toExponential(2)}`);
        t.true(diff <= 1e-4, `merged logits differ by ${diff}`);
      } finally {
        merged.dispose();
      }
    } finally {
      model.dispose();
    }
  });
}

test('the reference pass scores the base model: adapters are off inside referenceLogps', async (t) => {
  const examples = [
    { pair: { promptIds: [5, 6, 7], chosenIds: [8, 9, 1], rejectedIds: [10, 11, 12, 1] } },
    { pair: { promptIds: [20, 21], chosenIds: [22, 1], rejectedIds: [23, 24, 1] } },
  ];
  const batch = packPreferenceBatch(examples, { rejected: true, rationale: false });
  const native = loadNative();
  const opts = { computeDtype: 'float32' as const, logitsChunk: 64 };
  const base = await CausalLM.load(path.join(MODELS, 'tiny-chat'));
  const adapted = await CausalLM.load(path.join(MODELS, 'tiny-chat'));
  try {
    await loadAdapter(adapted, path.join(ADAPTERS, 'tiny-chat'));
    const want = await native.referenceLogps(base.nativeHandle, batch, opts);
    const got = await native.referenceLogps(adapted.nativeHandle, batch, opts);
    t.deepEqual(Array.from(got.chosen), Array.from(want.chosen));
    t.deepEqual(Array.from(got.rejected), Array.from(want.rejected));
    // ... while the adapted model itself scores differently, and the switch is back on afterwards.
    const policy = await adapted.sequenceLogprobs(batch);
    t.true(Math.abs(policy.sum[0]! - want.chosen[0]!) > 1e-3);
  } finally {
    base.dispose();
    adapted.dispose();
  }
});

test('a bfloat16 base stays bfloat16 under LoRA and the adapter still trains in float32', async (t) => {
  const bf16Dir = path.join(tmp, 'tiny-chat-bf16');
  const src = await CausalLM.load(path.join(MODELS, 'tiny-chat'));
  await src.save(bf16Dir, { dtype: 'bfloat16' });
  src.dispose();
  const model = await CausalLM.load(bf16Dir, { dtype: 'bfloat16' });
  try {
    t.is(model.config.dtype, 'bfloat16');
    await loadAdapter(model, path.join(ADAPTERS, 'tiny-chat'));
    const testing = loadNative().testing;
    const batch = packPlainSequences(SEQS);
    const plain = await testing.loraGrads(model.nativeHandle, batch, { mode: 'adapted', seed: 1 });
    const checkpointed = await testing.loraGrads(model.nativeHandle, batch, { mode: 'adapted', checkpointing: true, seed: 1 });
    t.true(maxAbs(plain.grads) > 0 && Number.isFinite(maxAbs(plain.grads)));
    t.true(maxAbsDiff(plain.grads, checkpointed.grads) <= 1e-6 * maxAbs(plain.grads), 'checkpointing on a bf16 base');
    const options = nativeTrainerOptions(
      resolveTrainConfig({ model: 'unused', data: 'unused', loss: 'sft', dtype: 'bfloat16', gradientCheckpointing: true, logitsChunk: 64 }),
      'bfloat16',
    );
    const trainer = await loadNative().createTrainer(model.nativeHandle, options);
    t.is(trainer.numParameters, 2 * (4 * (64 + 64) * 2 + 4 * (64 + 32) * 2 + 4 * (64 + 128) * 2 + 4 * (128 + 64)));
    const pref = packPreferenceBatch([{ pair: { promptIds: [5, 6, 7], chosenIds: [8, 9, 1] } }], { rejected: false, rationale: false });
    const m = await trainer.accumulate(pref, 1);
    t.true(Number.isFinite(m.loss));
    const norm = await trainer.step(1e-3, 0);
    t.true(norm > 0 && Number.isFinite(norm));
    t.is(model.config.dtype, 'bfloat16');
  } finally {
    model.dispose();
  }
});
