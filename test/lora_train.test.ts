// `train --lora-r`: only the adapter trains (with dropout and gradient checkpointing on), the
// reference is the frozen base, checkpoints and final/ hold a PEFT adapter with the tokenizer,
// an aborted run resumes exactly (adapter, AdamW state and dropout masks), `--adapter` continues
// an adapter, and `merge-lora` writes a model equal to base + adapter.
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CausalLM } from '../lib/index.js';
import { loadAdapter } from '../lib/model/lora.js';
import { ConfigError, resolveTrainConfig } from '../lib/train/config.js';
import { train } from '../lib/train/trainer.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { maxRelativeDifference, readF32Safetensors } from './helpers/safetensors_read.js';
import { policyDir, readMetricsRows, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('lora-train');
test.after.always(() => box.cleanup());

const config = {
  model: policyDir,
  data: box.dataNoRationale,
  loss: 'dpo' as const,
  batchSize: 2,
  maxSteps: 4,
  lr: 1e-2,
  schedule: 'linear' as const,
  warmupSteps: 1,
  weightDecay: 0.01,
  maxGradNorm: 1,
  maxLength: 512,
  maxPromptLength: 256,
  loraR: 4,
  loraAlpha: 8,
  loraDropout: 0.1,
  gradientCheckpointing: true,
};

const SEQS = [
  [5, 17, 42, 99, 7, 23],
  [11, 3, 250, 64, 8],
];

async function adaptedLogits(adapter: string): Promise<number[]> {
  const m = await CausalLM.load(policyDir);
  try {
    await loadAdapter(m, adapter);
    return (await m.logits(SEQS)).flat().flatMap((r) => Array.from(r));
  } finally {
    m.dispose();
  }
}

test.serial('a LoRA run trains only the adapter, writes PEFT adapters, and resumes exactly', async (t) => {
  const messages: string[] = [];
  const full = await train({ ...config, out: path.join(box.dir, 'full'), saveEvery: 2 }, { log: (m) => messages.push(m) });
  t.is(full.steps, 4);
  const lora = messages.find((m) => m.startsWith('LoRA r=4'));
  t.truthy(lora, messages.join('\n'));
  // tiny-chat: 2 layers of q,k,v,o,gate,up,down at r 4 (hidden 64, kv 32, intermediate 128).
  t.regex(lora!, /on 14 modules: 8192 trainable parameters; base frozen in float32/);
  const rows = readMetricsRows(full.runDir);
  t.true(rows.every((r) => Number.isFinite(r.loss)));
  // The reference is the base: at step 1 the adapter is still zero (B = 0), so the policy equals it.
  t.true(Math.abs(rows[0]!['rewards/margins'] as number) < 1e-6, `step-1 margin ${rows[0]!['rewards/margins']}`);

  const final = full.finalModelDir!;
  for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'trainer_state.json']) {
    t.true(existsSync(path.join(final, f)), `final/${f}`);
  }
  t.false(existsSync(path.join(final, 'model.safetensors')), 'no full model in a LoRA run');
  const ckpt = path.join(full.runDir, 'checkpoints', 'step-000002');
  t.true(existsSync(path.join(ckpt, 'adapter_model.safetensors')));
  const optimizer = readF32Safetensors(path.join(ckpt, 'optimizer.safetensors'));
  t.true(optimizer.has('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight.exp_avg'));
  t.false(
    [...optimizer.keys()].some((k) => k.startsWith('model.')),
    'no optimizer state for base weights',
  );
  const adapter = readF32Safetensors(path.join(final, 'adapter_model.safetensors'));
  t.is(adapter.size, 28);
  const b = adapter.get('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')!;
  t.true(
    b.some((v) => v !== 0),
    'B moved away from zero',
  );
  const cfg = JSON.parse(readFileSync(path.join(final, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  t.is(cfg.lora_dropout, 0.1);
  t.deepEqual(cfg.target_modules, ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
  t.is(cfg.base_model_name_or_path, policyDir);

  const controller = new AbortController();
  const first = await train(
    { ...config, out: path.join(box.dir, 'split') },
    {
      log: () => {},
      signal: controller.signal,
      onStep: (row) => {
        if (row.step === 2) controller.abort();
      },
    },
  );
  t.true(first.interrupted);
  const resumed = await train({ resume: first.runDir } as Parameters<typeof train>[0], { log: () => {} });
  t.is(resumed.steps, 4);
  const a = readMetricsRows(full.runDir);
  const r = readMetricsRows(resumed.runDir);
  for (let i = 2; i < 4; i++) {
    for (const k of ['loss', 'grad_norm', 'rewards/margins', 'logps/chosen']) {
      const x = r[i]![k] as number;
      const y = a[i]![k] as number;
      t.true(Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(y)), `row ${i + 1} ${k}: resumed ${x}, uninterrupted ${y}`);
    }
  }
  const diff = maxRelativeDifference(readF32Safetensors(path.join(resumed.finalModelDir!, 'adapter_model.safetensors')), adapter);
  t.true(diff <= 1e-5, `resumed adapter differs: ${diff}`);
});

test.serial('--adapter continues an adapter; merge-lora writes base + adapter as a plain model', async (t) => {
  const start = path.join(box.dir, 'full', 'final');
  const more = await train(
    {
      model: policyDir,
      data: box.dataNoRationale,
      loss: 'simpo',
      batchSize: 2,
      maxSteps: 1,
      lr: 1e-2,
      warmupSteps: 0,
      maxLength: 512,
      maxPromptLength: 256,
      adapter: start,
      out: path.join(box.dir, 'more'),
    },
    { log: () => {} },
  );
  const before = readF32Safetensors(path.join(start, 'adapter_model.safetensors'));
  const after = readF32Safetensors(path.join(more.finalModelDir!, 'adapter_model.safetensors'));
  t.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
  const moved = maxRelativeDifference(after, before);
  t.true(moved > 1e-4 && moved < Infinity, `the adapter moved from where it started (${moved})`);

  ensureDist();
  const out = path.join(box.dir, 'merged');
  const res = await runCli(['merge-lora', '--model', policyDir, '--adapter', start, '--out', out]);
  t.is(res.code, 0, res.stderr);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'trainer_state.json']) t.true(existsSync(path.join(out, f)), f);
  const merged = await CausalLM.load(out);
  try {
    const m = (await merged.logits(SEQS)).flat().flatMap((r) => Array.from(r));
    const want = await adaptedLogits(start);
    let worst = 0;
    m.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want[i]!))));
    t.true(worst <= 1e-4, `merged model vs base + adapter: max |logit diff| ${worst}`);
  } finally {
    merged.dispose();
  }
  // Without --model the adapter's base_model_name_or_path names the base.
  const res2 = await runCli(['merge-lora', '--adapter', start, '--out', path.join(box.dir, 'merged2')]);
  t.is(res2.code, 0, res2.stderr);

  // logprobs / generate / eval with --adapter score as the merged model does.
  const prompts = path.join(box.dir, 'prompts.jsonl');
  writeFileSync(prompts, '{"prompt": "What is two plus two?"}\n{"prompt": "Name a colour."}\n');
  const scored: Record<string, string> = {};
  for (const [name, model] of [
    ['adapter', ['--model', policyDir, '--adapter', start]],
    ['merged', ['--model', out]],
    ['base', ['--model', policyDir]],
  ] as const) {
    const lp = await runCli(['logprobs', ...model, '--data', box.dataNoRationale, '--out', path.join(box.dir, `lp-${name}.jsonl`)]);
    t.is(lp.code, 0, lp.stderr);
    const gen = await runCli(['generate', ...model, '--prompts', prompts, '--max-new-tokens', '8', '--out', path.join(box.dir, `gen-${name}.jsonl`)]);
    t.is(gen.code, 0, gen.stderr);
    const ev = await runCli(['eval', ...model, '--data', box.dataNoRationale, '--json', '--out', path.join(box.dir, `eval-${name}`)]);
    t.is(ev.code, 0, ev.stderr);
    scored[name] = readFileSync(path.join(box.dir, `lp-${name}.jsonl`), 'utf8');
    const lines = scored[name]!.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { chosen_logp?: number; chosen?: number });
    t.true(lines.length === 8, name);
  }
  const rows = (name: string) =>
    scored[name]!.trim()
      .split('\n')
      .map((l) => Object.values(JSON.parse(l) as Record<string, unknown>).filter((v): v is number => typeof v === 'number'));
  const a = rows('adapter').flat();
  const m = rows('merged').flat();
  const b0 = rows('base').flat();
  t.true(
    a.every((v, i) => Math.abs(v - m[i]!) <= 1e-3 * Math.max(1, Math.abs(v))),
    'logprobs: adapter = merged',
  );
  t.true(
    a.some((v, i) => Math.abs(v - b0[i]!) > 1e-3),
    'logprobs: the adapter changes the scores',
  );
  const genOut = (name: string) =>
    readFileSync(path.join(box.dir, `gen-${name}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { tokens: number }).tokens);
  t.deepEqual(genOut('adapter'), genOut('merged'));

  const bad = await runCli([
    'train',
    '--model',
    policyDir,
    '--data',
    box.dataNoRationale,
    '--adapter',
    start,
    '--lora-r',
    '8',
    '--out',
    path.join(box.dir, 'bad'),
  ]);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /adapter.*fixes r, alpha/);
});

test('LoRA settings without a rank, or beside --adapter, are configuration errors naming the key', (t) => {
  const base = { model: policyDir, data: box.dataNoRationale };
  t.throws(() => resolveTrainConfig({ ...base, loraAlpha: 8 }), { instanceOf: ConfigError, message: /'loraAlpha' needs loraR/ });
  t.throws(() => resolveTrainConfig({ ...base, adapter: 'x', loraTargets: 'q_proj' }), { instanceOf: ConfigError, message: /'adapter'.*fixes r, alpha/ });
  const ok = resolveTrainConfig({ ...base, loraR: 8, loraTargets: 'q_proj,v_proj' });
  t.is(ok.loraR, 8);
  // Runs without LoRA record no LoRA keys (their config digest, hence --resume, is unchanged).
  t.false(Object.keys(resolveTrainConfig(base)).some((k) => k.startsWith('lora') || k === 'adapter'));
});
