// final/README.md and each checkpoint's: the hub's YAML front matter, the loss with its citation,
// data counts, metrics, the configuration and a command that reproduces the run; trainer_state.json
// with transformers' fields (log_history in TRL's shape).
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { resolveTrainConfig } from '../lib/train/config.js';
import { modelCard, reproduceCommand } from '../lib/train/model_card.js';
import { train } from '../lib/train/trainer.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir, readMetricsRows, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('model-card');
test.after.always(() => box.cleanup());

function frontMatter(card: string): Record<string, unknown> {
  const m = /^---\n([\s\S]*?)\n---\n/.exec(card);
  if (!m) throw new Error(`no front matter in:\n${card.slice(0, 200)}`);
  return YAML.parse(m[1]!) as Record<string, unknown>;
}

test("a DPO run: final/ and checkpoints carry a model card and a trainer_state.json in TRL's shape", async (t) => {
  const result = await train(
    {
      model: policyDir,
      data: box.dataNoRationale,
      loss: 'dpo',
      batchSize: 2,
      maxSteps: 2,
      lr: 1e-3,
      warmupSteps: 0,
      maxLength: 512,
      evalSize: 2,
      evalEvery: 1,
      saveEvery: 1,
      beta: 0.2,
      out: path.join(box.dir, 'dpo'),
    },
    { log: () => {} },
  );
  const card = readFileSync(path.join(result.finalModelDir!, 'README.md'), 'utf8');
  const front = frontMatter(card);
  t.is(front.library_name, 'transformers');
  t.deepEqual(front.tags, ['rdpo-native', 'dpo', 'preference-alignment']);
  t.false('base_model' in front, 'a local base model is not a hub id');
  t.regex(card, /trained with \*\*DPO\*\*/);
  t.regex(card, /Source: Rafailov et al\. 2023, arXiv 2305\.18290/);
  t.regex(card, /\| beta \| 0\.2 \|/);
  t.regex(card, /\| training pairs \| 6 \|\n\| evaluation pairs \| 2 \|/);
  t.regex(card, /end of training: step 2 of 2/);
  t.regex(card, /Evaluation at step 2 on 2 held-out pairs:/);
  t.regex(card, /\| rewards\/margins \| -?\d/);
  t.regex(card, /```sh\nrdpo-native train --model \S+tiny-chat --data \S+pairs-no-rationale\.jsonl --loss dpo .*--beta 0\.2/);
  const ckpt = readFileSync(path.join(result.runDir, 'checkpoints', 'step-000001', 'README.md'), 'utf8');
  t.regex(ckpt, /a checkpoint at step 1 of 2/);
  t.notRegex(ckpt, /Last training step \(2\)/, 'a checkpoint shows the metrics up to its own step');

  const state = JSON.parse(readFileSync(path.join(result.finalModelDir!, 'trainer_state.json'), 'utf8')) as Record<string, any>;
  t.is(state.global_step, 2);
  t.is(state.max_steps, 2);
  t.is(state.step, 2, 'the resume fields stay');
  const rows = readMetricsRows(result.runDir);
  t.is(state.log_history.length, rows.length);
  const trainEntry = state.log_history.find((e: Record<string, number>) => 'loss' in e && e.step === 2);
  t.is(trainEntry['rewards/margins'], rows.find((r) => !r.eval && r.step === 2)!['rewards/margins']);
  const evalEntry = state.log_history.find((e: Record<string, number>) => 'eval_loss' in e && e.step === 2);
  t.is(evalEntry['eval_rewards/accuracies'], rows.find((r) => r.eval && r.step === 2)!['rewards/accuracies']);
  t.is(typeof evalEntry.epoch, 'number');
  const ckptState = JSON.parse(readFileSync(path.join(result.runDir, 'checkpoints', 'step-000001', 'trainer_state.json'), 'utf8')) as Record<string, any>;
  t.true(ckptState.log_history.every((e: { step: number }) => e.step <= 1));

  // The card's command gives back the run's configuration (train --print-config).
  ensureDist();
  const recorded = (JSON.parse(readFileSync(path.join(result.runDir, 'config.json'), 'utf8')) as { config: Record<string, unknown> }).config;
  const words = reproduceCommand(recorded as never)
    .split(' ')
    .slice(2);
  const printed = await runCli(['train', ...words, '--out', result.runDir, '--print-config']);
  t.is(printed.code, 0, printed.stderr);
  t.deepEqual(JSON.parse(printed.stdout), recorded);
});

test('hub ids: base_model and datasets in the front matter; a LoRA adapter is library_name peft', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rdpo-card-'));
  try {
    const config = resolveTrainConfig({
      model: 'org/base-model@v1',
      data: 'trl-lib/ultrafeedback_binarized:train',
      loss: 'rdpo',
      loraR: 8,
      refCache: false,
      lr: 1e-6,
    });
    const card = modelCard(dir, config, { step: 3, totalSteps: 10, lora: true, stopped: 'early stopping: eval loss did not improve' });
    const front = frontMatter(card);
    t.is(front.base_model, 'org/base-model');
    t.deepEqual(front.datasets, ['trl-lib/ultrafeedback_binarized']);
    t.is(front.library_name, 'peft');
    t.true((front.tags as string[]).includes('lora'));
    t.regex(card, /\*\*These weights are from step 3 of 10\*\*: training stopped early/);
    t.regex(card, /No metrics were logged/);
    const cmd = reproduceCommand(config);
    t.regex(cmd, /--no-ref-cache/);
    t.regex(cmd, /--lora-r 8/);
    t.regex(cmd, /--lr 0\.000001|--lr 1e-6/);
    t.is(reproduceCommand({ ...config, data: "it's here.jsonl" }).includes(`--data 'it'\\''s here.jsonl'`), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
