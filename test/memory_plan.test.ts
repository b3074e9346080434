// The memory plan (`train --dry-run`, `plan`): parameter counts from safetensors headers, LoRA and
// ZeRO arithmetic, the fit verdict, and the CLI writing nothing. Its accuracy against measured peaks
// is a benchmark (docs/memory_plan.md), not a test.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSafetensors } from '../lib/model/safetensors_writer.js';
import { readFileTensors, readModelTensors } from '../lib/model/safetensors_header.js';
import type { TrainConfig } from '../lib/train/config.js';
import { memoryPlanSettings } from '../lib/train/plan_settings.js';
import { formatMemoryPlan, planMemory, type MemoryBreakdown, type MemoryPlanSettings } from '../lib/train/memory_plan.js';
import { repoRoot, runCli } from './helpers/cli.js';
import { policyDir, trainSandbox } from './helpers/train_fixture.js';

const models = path.join(repoRoot, 'test', 'fixtures', 'models');
const config = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number | boolean>;

const BASE: MemoryPlanSettings = {
  computeDtype: 'float32',
  device: 'cpu',
  gradientCheckpointing: false,
  rows: 64,
  referenceRows: 48,
  logitsChunk: 1024,
  ranks: 1,
  zero: 0,
  reference: 'separate',
};

test('parameters are counted from the headers: a Llama is embed + layers + norm (+ untied head)', (t) => {
  const dir = path.join(models, 'llama');
  const c = config(dir);
  const H = c.hidden_size as number,
    I = c.intermediate_size as number,
    L = c.num_hidden_layers as number,
    V = c.vocab_size as number;
  const D = (c.head_dim as number | undefined) ?? H / (c.num_attention_heads as number);
  const q = (c.num_attention_heads as number) * D,
    kv = ((c.num_key_value_heads as number | undefined) ?? (c.num_attention_heads as number)) * D;
  const perLayer = 2 * H + H * q + 2 * H * kv + q * H + 3 * H * I;
  const expected = V * H + L * perLayer + H + (c.tie_word_embeddings ? 0 : V * H);
  const plan = planMemory(dir, BASE);
  t.is(plan.parameters.total, expected);
  t.is(plan.parameters.trainable, expected);
  // float32 masters + gradients + two moments: 16 bytes a parameter
  t.is(plan.training.weights + plan.training.gradients + plan.training.optimizer, 16 * expected);
});

test('LoRA: only r·(in+out) per targeted linear is trainable; the base stays in its checkpoint dtype', (t) => {
  const dir = path.join(models, 'llama');
  const tensors = readModelTensors(dir);
  const r = 4;
  const qv = tensors.filter((x) => /\.(q_proj|v_proj)\.weight$/.test(x.name)).reduce((a, x) => a + r * (x.shape[0]! + x.shape[1]!), 0);
  const plan = planMemory(dir, { ...BASE, lora: { r, targets: ['q_proj', 'v_proj'] }, reference: 'adapters-off' });
  t.is(plan.parameters.trainable, qv);
  t.is(plan.training.gradients, 4 * qv);
  t.is(plan.training.optimizer, 8 * qv);
  t.is(plan.referencePhase, undefined, 'adapters off: no second model');
  const bytes = plan.parameters.checkpointDtype === 'BF16' ? 2 : 4;
  t.is(plan.training.weights, plan.parameters.total * bytes + 4 * qv);

  // Phi-3's fused projections are ordinary linear modules to LoRA (as in PEFT)
  const phi = path.join(models, 'phi3');
  const all = planMemory(phi, { ...BASE, lora: { r, targets: 'all-linear' }, reference: 'adapters-off' });
  const fused = readModelTensors(phi).filter((x) => /\.(qkv_proj|o_proj|gate_up_proj|down_proj)\.weight$/.test(x.name));
  t.is(
    all.parameters.trainable,
    fused.reduce((a, x) => a + r * (x.shape[0]! + x.shape[1]!), 0),
  );
  t.throws(() => planMemory(phi, { ...BASE, lora: { r, targets: ['q_proj'] } }), { message: /match no linear layer.*q_proj/ });
});

test('ZeRO-1 divides the optimizer state by the ranks; data-parallel adds the buckets', (t) => {
  const dir = path.join(models, 'llama');
  const one = planMemory(dir, BASE);
  const four = planMemory(dir, { ...BASE, ranks: 4, zero: 1 });
  t.is(four.training.optimizer, one.training.optimizer / 4);
  t.true(four.training.communication > 0);
  t.is(one.training.communication, 0);
  // The reduce-scatter leaves each rank its own tensors' gradients (plus the largest tensor's local
  // gradient while it is sent), unless micro-batches accumulate.
  const largest = Math.max(...readModelTensors(dir).map((x) => x.shape.reduce((a, b) => a * b, 1) * 4));
  t.is(four.training.gradients, Math.min(one.training.gradients, one.training.gradients / 4 + largest));
  t.true(four.training.gradients < one.training.gradients);
  t.is(planMemory(dir, { ...BASE, ranks: 4, zero: 1, gradAccum: 2 }).training.gradients, one.training.gradients);
  t.is(planMemory(dir, { ...BASE, ranks: 4, zero: 0 }).training.gradients, one.training.gradients);
});

test('bf16 compute adds the bf16 weight copies; checkpointing keeps fewer activations', (t) => {
  const dir = path.join(models, 'llama');
  const fp32 = planMemory(dir, BASE);
  const bf16 = planMemory(dir, { ...BASE, computeDtype: 'bfloat16' });
  t.is(fp32.training.computeCopies, 0);
  t.true(bf16.training.computeCopies > 0);
  t.true(bf16.training.activations < fp32.training.activations);
  const ckpt = planMemory(dir, { ...BASE, rows: 4096, gradientCheckpointing: true });
  const plain = planMemory(dir, { ...BASE, rows: 4096 });
  t.true(ckpt.training.activations < plain.training.activations);
});

test('the output layer is sized by the scored rows; LoRA and checkpointing hold the gradients through the step', (t) => {
  const dir = path.join(models, 'llama');
  const V = config(dir).vocab_size as number;
  const rows = { ...BASE, rows: 4096, referenceRows: 4096, logitsChunk: 1024 };
  const scoredFew = planMemory(dir, { ...rows, scoredRows: 300, referenceScoredRows: 200 });
  t.is(scoredFew.training.outputLayer, 2 * 300 * V * 4);
  t.is(scoredFew.referencePhase!.outputLayer, 2 * 200 * V * 4);
  t.is(planMemory(dir, { ...rows, scoredRows: 3000 }).training.outputLayer, 2 * 1024 * V * 4, 'one chunk at a time');
  t.is(planMemory(dir, rows).training.outputLayer, 2 * 1024 * V * 4, 'without scoredRows: every row');

  const sum = (b: MemoryBreakdown, keys: Array<keyof MemoryBreakdown>) => keys.reduce((a, k) => a + b[k], 0);
  const fixed: Array<keyof MemoryBreakdown> = ['runtime', 'weights', 'computeCopies', 'optimizer', 'communication'];
  const ckpt = planMemory(dir, { ...rows, gradientCheckpointing: true }).training;
  t.is(ckpt.total, sum(ckpt, [...fixed, 'gradients', 'activations', 'outputLayer']));
  const lora = planMemory(dir, { ...rows, lora: { r: 4, targets: 'all-linear' }, reference: 'adapters-off' }).training;
  t.is(lora.total, sum(lora, [...fixed, 'gradients', 'activations', 'outputLayer']));
  const plain = planMemory(dir, rows).training;
  t.true(
    plain.total < sum(plain, [...fixed, 'gradients', 'activations', 'outputLayer']),
    'full fine-tuning without checkpointing: gradients replace activations',
  );
});

test("LoRA targets match as the trainer matches them (full paths, trailing names); --adapter counts the adapter's own tensors", (t) => {
  const model = path.join(models, 'tiny-chat');
  const adapterDir = path.join(repoRoot, 'test', 'fixtures', 'lora', 'tiny-chat');
  const adapterConfig = JSON.parse(readFileSync(path.join(adapterDir, 'adapter_config.json'), 'utf8')) as { r: number; target_modules: string[] };
  const adapterTensors = readFileTensors(path.join(adapterDir, 'adapter_model.safetensors'));
  const expected = adapterTensors.reduce((n, x) => n + x.shape.reduce((a, b) => a * b, 1), 0);

  // PEFT wrote full module paths (model.layers.1.self_attn.q_proj): the same count from the base's headers
  const byPath = planMemory(model, { ...BASE, lora: { r: adapterConfig.r, targets: adapterConfig.target_modules }, reference: 'adapters-off' });
  t.is(byPath.parameters.trainable, expected);
  // a trailing path (self_attn.q_proj) matches like the bare name (q_proj)
  const bare = planMemory(model, { ...BASE, lora: { r: 4, targets: ['q_proj'] }, reference: 'adapters-off' });
  const trailing = planMemory(model, { ...BASE, lora: { r: 4, targets: ['self_attn.q_proj'] }, reference: 'adapters-off' });
  t.is(trailing.parameters.trainable, bare.parameters.trainable);

  // continuing the adapter: counted from its safetensors header, whatever target_modules says
  const settings = memoryPlanSettings(
    { batchSize: 1, dtype: 'float32', device: 'cpu', gradientCheckpointing: false, logitsChunk: 1024, adapter: adapterDir } as unknown as TrainConfig,
    [],
    { rejected: true, rationale: false, reference: true },
  );
  t.deepEqual(settings.lora?.adapterParameters, { count: expected, modules: adapterTensors.length / 2 });
  t.is(planMemory(model, settings).parameters.trainable, expected);
});

test('a plan that does not fit says so and how to fit', (t) => {
  const dir = path.join(models, 'llama');
  const plan = planMemory(dir, { ...BASE, device: 'cuda:0' }, [{ index: 0, totalMemory: 1024 }]);
  t.false(plan.fits);
  const text = formatMemoryPlan(plan);
  t.regex(text, /DOES NOT FIT/);
  t.regex(text, /--gradient-checkpointing/);
  t.regex(text, /--lora-r/);
  const unknown = planMemory(dir, { ...BASE, device: 'cuda:3' }, []);
  t.false(unknown.fits);
  t.regex(formatMemoryPlan(unknown), /cannot tell/);
});

test('sharded checkpoints: every shard of the index is counted', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-plan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeSafetensors(path.join(dir, 'a.safetensors'), new Map([['x.weight', { dtype: 'BF16', shape: [3, 4], data: new Uint16Array(12) }]]));
  writeSafetensors(path.join(dir, 'b.safetensors'), new Map([['y.weight', { dtype: 'BF16', shape: [5], data: new Uint16Array(5) }]]));
  writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'x.weight': 'a.safetensors', 'y.weight': 'b.safetensors' } }));
  const tensors = readModelTensors(dir);
  t.deepEqual(
    tensors.map((x) => [x.name, x.dtype, x.shape]),
    [
      ['x.weight', 'BF16', [3, 4]],
      ['y.weight', 'BF16', [5]],
    ],
  );
  t.throws(() => readModelTensors(os.tmpdir()), { message: /neither model\.safetensors nor model\.safetensors\.index\.json/ });
});

test('train --dry-run prints the plan from the real data and writes nothing; plan is the same command', async (t) => {
  const sb = trainSandbox('plan');
  t.teardown(sb.cleanup);
  const out = path.join(sb.dir, 'run');
  const args = ['--model', policyDir, '--data', sb.data, '--loss', 'rdpo', '--batch-size', '4', '--out', out];
  const dry = await runCli(['train', '--dry-run', ...args], { env: { RDPO_CACHE_DIR: path.join(sb.dir, 'cache') } });
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /memory plan for/);
  t.regex(dry.stdout, /reference phase/);
  t.regex(dry.stdout, /peak per rank: [\d.]+ GiB; this machine's RAM: [\d.]+ GiB → fits/);
  t.false(existsSync(out), 'a dry run creates no run directory');
  const alias = await runCli(['plan', ...args], { env: { RDPO_CACHE_DIR: path.join(sb.dir, 'cache') } });
  t.is(alias.code, 0, alias.stderr);
  t.is(alias.stdout, dry.stdout);
  // --batch-size is global: two ranks each plan for the longer half of the batch, plus the buckets
  const two = await runCli(['plan', '--nproc', '2', ...args], { env: { RDPO_CACHE_DIR: path.join(sb.dir, 'cache'), RDPO_DDP_ZERO: '1' } });
  t.is(two.code, 0, two.stderr);
  t.regex(two.stdout, /2 rank\(s\), ZeRO-1/);
  const rows = (text: string) => Number(/largest micro-batch: (\d+) rows/.exec(text)![1]);
  t.true(rows(two.stdout) < rows(dry.stdout) && rows(two.stdout) >= rows(dry.stdout) / 2, `${rows(two.stdout)} rows per rank of ${rows(dry.stdout)}`);
});
