// LoRA interchange with PEFT. Always: adapters PEFT wrote (test/fixtures/lora, non-zero B, made by
// scripts/make_peft_fixture.py: Llama all-linear, Phi-3 fused projections with rsLoRA, GPT-2
// Conv1D) score in rdpo-native as PEFT scored them. When Python with torch, transformers and peft
// is available: an adapter trained here loads in PEFT with the same outputs, and the model
// merge-lora writes loads in transformers with the same outputs (else those tests log why and skip).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CausalLM, packPlainSequences } from '../lib/index.js';
import { loadAdapter, saveAdapter } from '../lib/model/lora.js';
import { train } from '../lib/train/trainer.js';
import { repoRoot, runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir, trainSandbox } from './helpers/train_fixture.js';

const ADAPTERS = path.join(repoRoot, 'test', 'fixtures', 'lora');

interface Scores {
  last_logits: number[][];
  logprob_sums: number[];
}

/** rdpo-native's scores of sequences under base + adapter, in the Python script's form. */
async function scoresOf(base: string, adapter: string | undefined, sequences: number[][]): Promise<Scores> {
  const model = await CausalLM.load(base);
  try {
    if (adapter) await loadAdapter(model, adapter);
    const logits = await model.logits(sequences);
    const sums = await model.sequenceLogprobs(packPlainSequences(sequences));
    return { last_logits: logits.map((rows) => Array.from(rows[rows.length - 1]!)), logprob_sums: Array.from(sums.sum) };
  } finally {
    model.dispose();
  }
}

function compare(t: { true: (v: boolean, m?: string) => void; log: (...m: unknown[]) => void }, got: Scores, want: Scores, what: string): void {
  let worst = 0;
  want.last_logits.forEach((row, i) => row.forEach((v, k) => (worst = Math.max(worst, Math.abs(got.last_logits[i]![k]! - v)))));
  let worstSum = 0;
  want.logprob_sums.forEach((v, i) => (worstSum = Math.max(worstSum, Math.abs(got.logprob_sums[i]! - v) / Math.max(1, Math.abs(v)))));
  t.log(`${what}: max |logit diff| ${worst.toExponential(2)}, max relative log-prob sum diff ${worstSum.toExponential(2)}`);
  t.true(worst <= 1e-4, `${what}: logits differ by ${worst}`);
  t.true(worstSum <= 1e-5, `${what}: log-prob sums differ by ${worstSum}`);
}

for (const name of ['tiny-chat', 'phi3', 'gpt2']) {
  test(`${name}: a PEFT-written adapter (non-zero B) scores as PEFT scored it`, async (t) => {
    const want = JSON.parse(readFileSync(path.join(ADAPTERS, name, 'expected.json'), 'utf8')) as Scores & { base: string; sequences: number[][] };
    const got = await scoresOf(path.join(repoRoot, want.base), path.join(ADAPTERS, name), want.sequences);
    compare(t, got, want, name);
    // The adapter matters: the base alone scores differently.
    const base = await scoresOf(path.join(repoRoot, want.base), undefined, want.sequences);
    t.true(Math.abs(base.logprob_sums[0]! - want.logprob_sums[0]!) > 1e-3, 'the fixture adapter changes the outputs');
  });
}

// Python with torch, transformers and peft, or why not.
function pythonMissing(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import torch, transformers, peft'], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) return `python3 could not run (${r.error.message})`;
  if (r.status !== 0) return `python3 lacks torch/transformers/peft: ${r.stderr.trim().split('\n').pop()}`;
  return undefined;
}
const missing = pythonMissing();
if (missing) console.log(`lora_peft: skipping the PEFT/transformers round trips: ${missing}`);
const withPython = missing ? test.skip : test.serial;

function pythonScores(base: string, adapter: string | null, sequences: number[][], dir: string): Scores {
  const req = path.join(dir, `request-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(req, JSON.stringify({ base, adapter, sequences }));
  const r = spawnSync('python3', [path.join(repoRoot, 'scripts', 'peft_logits.py'), req], { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`scripts/peft_logits.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Scores;
}

withPython('an adapter trained here loads in PEFT, and the merged model in transformers, with the same outputs', async (t) => {
  const box = trainSandbox('lora-peft');
  t.teardown(() => box.cleanup());
  const run = await train(
    {
      model: policyDir,
      data: box.dataNoRationale,
      loss: 'dpo',
      batchSize: 2,
      maxSteps: 3,
      lr: 2e-2,
      warmupSteps: 0,
      maxLength: 512,
      maxPromptLength: 256,
      loraR: 4,
      loraAlpha: 16,
      loraTargets: 'q_proj,k_proj,v_proj,o_proj,down_proj',
      out: path.join(box.dir, 'run'),
    },
    { log: () => {} },
  );
  const adapter = run.finalModelDir!;
  const sequences = [
    [5, 17, 42, 99, 7, 23, 400, 1200],
    [11, 3, 250, 64, 8],
  ];
  const ours = await scoresOf(policyDir, adapter, sequences);
  compare(t, ours, pythonScores(policyDir, adapter, sequences, box.dir), 'trained adapter in PEFT');

  ensureDist();
  const merged = path.join(box.dir, 'merged');
  const res = await runCli(['merge-lora', '--model', policyDir, '--adapter', adapter, '--out', merged]);
  t.is(res.code, 0, res.stderr);
  compare(t, ours, pythonScores(merged, null, sequences, box.dir), 'merged model in transformers');
});

withPython('an alpha_pattern + rsLoRA adapter scores as in PEFT, and keeps its per-module alpha when saved here', async (t) => {
  const box = trainSandbox('lora-pattern');
  t.teardown(() => box.cleanup());
  // The PEFT fixture with q_proj at alpha 32 (the rest at lora_alpha 8) and rsLoRA scaling.
  const edited = path.join(box.dir, 'edited');
  mkdirSync(edited);
  copyFileSync(path.join(ADAPTERS, 'tiny-chat', 'adapter_model.safetensors'), path.join(edited, 'adapter_model.safetensors'));
  const cfg = JSON.parse(readFileSync(path.join(ADAPTERS, 'tiny-chat', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(edited, 'adapter_config.json'), JSON.stringify({ ...cfg, alpha_pattern: { q_proj: 32 }, use_rslora: true }));
  const sequences = [
    [5, 17, 42, 99, 7, 23, 400],
    [11, 3, 250, 64, 8],
  ];
  const ours = await scoresOf(policyDir, edited, sequences);
  compare(t, ours, pythonScores(policyDir, edited, sequences, box.dir), 'alpha_pattern adapter in PEFT');
  const plain = await scoresOf(policyDir, path.join(ADAPTERS, 'tiny-chat'), sequences);
  t.true(Math.abs(plain.logprob_sums[0]! - ours.logprob_sums[0]!) > 1e-4, 'the pattern changes the outputs');

  const model = await CausalLM.load(policyDir);
  const resaved = path.join(box.dir, 'resaved');
  try {
    await loadAdapter(model, edited);
    await saveAdapter(model, resaved);
  } finally {
    model.dispose();
  }
  const written = JSON.parse(readFileSync(path.join(resaved, 'adapter_config.json'), 'utf8')) as { alpha_pattern: Record<string, number> };
  t.is(written.alpha_pattern['model.layers.0.self_attn.q_proj'], 32);
  compare(t, await scoresOf(policyDir, resaved, sequences), pythonScores(policyDir, resaved, sequences, box.dir), 're-saved alpha_pattern adapter in PEFT');
});
