// Every loss through the whole trainer (data → tokens → packed batch → native step → metrics.jsonl)
// on the tiny-chat model: finite numbers and the expected metric keys; with one pair per batch the
// logged loss is rebuilt from the logged log-probs, which checks how the rationale rows, --gamma,
// --rationale-form and --rationale-norm reach the loss. Also: RDPO learns, bfloat16 compute,
// config errors that name the key, the reference log-prob cache, and rationale-less data.
import test from 'ava';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TrainConfigInput } from '../lib/train/config.js';
import type { MetricsRow } from '../lib/train/metrics.js';
import { train } from '../lib/train/trainer.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir, refDir, trainSandbox } from './helpers/train_fixture.js';

const box = trainSandbox('losses');
test.after.always(() => box.cleanup());

let runs = 0;
async function run(config: Partial<TrainConfigInput>, logs?: string[]): Promise<MetricsRow[]> {
  const rows: MetricsRow[] = [];
  await train(
    {
      model: policyDir,
      data: box.data,
      out: path.join(box.dir, `run-${runs++}`),
      batchSize: 1,
      maxSteps: 2,
      lr: 1e-3,
      warmupSteps: 0,
      maxLength: 256,
      // Exact arithmetic below: float32, not `auto` (bf16 where the CPU computes it natively).
      dtype: 'float32',
      ...config,
    } as TrainConfigInput,
    { onStep: (r) => rows.push(r), log: (m) => logs?.push(m) },
  );
  return rows;
}

const logsig = (x: number) => -Math.log1p(Math.exp(-x));
const REWARDS = ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'];
const RATIONALE = ['logps/rationale', 'nll/rationale'];
const ALWAYS = ['loss', 'grad_norm', 'learning_rate', 'tokens', 'total_tokens', 'tokens_per_sec', 'mfu', 'epoch', 'step'];

interface Case {
  name: string;
  config: Partial<TrainConfigInput>;
  keys: string[];
  /** The loss rebuilt from the row's metrics (batch of one pair), where the metrics determine it. */
  loss?: (r: Record<string, number>) => number;
}
const margin = (r: Record<string, number>) => r['rewards/margins']!;
const rationaleLogp = (r: Record<string, number>) => r['logps/rationale']!;
const rationaleMean = (r: Record<string, number>) => -r['nll/rationale']!;
const CASES: Case[] = [
  { name: 'sft', config: { loss: 'sft' }, keys: ['logps/chosen', 'nll_loss'], loss: (r) => r.nll_loss! },
  { name: 'dpo sigmoid', config: { loss: 'dpo', refModel: refDir }, keys: REWARDS, loss: (r) => -logsig(margin(r)) },
  { name: 'dpo ipo', config: { loss: 'dpo', dpoVariant: 'ipo', refModel: refDir }, keys: REWARDS },
  { name: 'dpo hinge', config: { loss: 'dpo', dpoVariant: 'hinge', refModel: refDir }, keys: REWARDS, loss: (r) => Math.max(0, 1 - margin(r)) },
  {
    name: 'dpo robust',
    config: { loss: 'dpo', dpoVariant: 'robust', labelSmoothing: 0.1, refModel: refDir },
    keys: REWARDS,
    loss: (r) => (-0.9 * logsig(margin(r)) + 0.1 * logsig(-margin(r))) / 0.8,
  },
  {
    name: 'rdpo paper sum',
    config: { loss: 'rdpo', gamma: 2, rationaleForm: 'paper', refModel: refDir },
    keys: [...REWARDS, ...RATIONALE],
    loss: (r) => -logsig(margin(r)) - 2 * rationaleLogp(r),
  },
  {
    name: 'rdpo paper mean',
    config: { loss: 'rdpo', gamma: 2, rationaleForm: 'paper', rationaleNorm: 'mean', refModel: refDir },
    keys: [...REWARDS, ...RATIONALE],
    loss: (r) => -logsig(margin(r)) - 2 * rationaleMean(r),
  },
  {
    name: 'rdpo logsigmoid sum',
    config: { loss: 'rdpo', gamma: 0.1, rationaleForm: 'logsigmoid', refModel: refDir },
    keys: [...REWARDS, ...RATIONALE],
    loss: (r) => -logsig(margin(r)) - logsig(0.1 * rationaleLogp(r)),
  },
  {
    name: 'rdpo logsigmoid mean',
    config: { loss: 'rdpo', gamma: 0.1, rationaleForm: 'logsigmoid', rationaleNorm: 'mean', refModel: refDir },
    keys: [...REWARDS, ...RATIONALE],
    loss: (r) => -logsig(margin(r)) - logsig(0.1 * rationaleMean(r)),
  },
  {
    name: 'orpo',
    config: { loss: 'orpo' },
    keys: [...REWARDS, 'nll_loss', 'log_odds_ratio', 'log_odds_chosen'],
    loss: (r) => r.nll_loss! - 0.1 * r.log_odds_ratio!,
  },
  {
    name: 'rorpo',
    config: { loss: 'rorpo' },
    keys: [...REWARDS, 'nll_loss', 'log_odds_ratio', 'log_odds_chosen', ...RATIONALE],
    // The default is rorpo-simple: the linear term at γ 1.0 on the per-token mean.
    loss: (r) => r.nll_loss! - 0.1 * r.log_odds_ratio! - 1 * rationaleMean(r),
  },
  { name: 'simpo', config: { loss: 'simpo' }, keys: REWARDS, loss: (r) => -logsig(margin(r) - 0.5) },
  {
    name: 'rsimpo',
    config: { loss: 'rsimpo', gamma: 2, rationaleForm: 'paper' },
    keys: [...REWARDS, ...RATIONALE],
    loss: (r) => -logsig(margin(r) - 0.5) - 2 * rationaleLogp(r),
  },
  { name: 'rationale-only', config: { loss: 'rationale-only', gamma: 2, rationaleForm: 'paper' }, keys: RATIONALE, loss: (r) => -2 * rationaleLogp(r) },
];

for (const c of CASES) {
  test.serial(`${c.name}: two steps, finite, with its metric keys`, async (t) => {
    const rows = await run(c.config);
    t.is(rows.length, 2);
    for (const row of rows) {
      for (const k of [...ALWAYS, ...c.keys]) {
        t.is(typeof row[k], 'number', `${k} missing`);
        t.true(Number.isFinite(row[k] as number), `${k} = ${row[k]}`);
      }
      if (c.keys.includes('logps/rationale')) t.true((row.rationale_tokens as number) > 0);
      if (c.loss) {
        const expected = c.loss(row as Record<string, number>);
        t.true(Math.abs(row.loss - expected) <= 1e-4 * Math.max(1, Math.abs(expected)), `loss ${row.loss}, from the metrics ${expected}`);
      }
    }
    t.not(rows[0]!.loss, rows[1]!.loss, 'the second step sees another pair and updated weights');
  });
}

test.serial('RDPO loss falls over 20 steps', async (t) => {
  const rows = await run({ loss: 'rdpo', refModel: refDir, batchSize: 2, maxSteps: 20, lr: 2e-3, warmupSteps: 2 });
  // 8 pairs in batches of 2: compare the first epoch's mean with the fifth's (same pairs).
  const mean = (rs: MetricsRow[]) => rs.reduce((s, r) => s + r.loss, 0) / rs.length;
  const first = mean(rows.slice(0, 4));
  const last = mean(rows.slice(16, 20));
  t.log(`mean loss, epoch 1: ${first.toFixed(3)}; epoch 5: ${last.toFixed(3)}`);
  t.true(last < 0.5 * first, `epoch 5 mean ${last} vs epoch 1 mean ${first}`);
  t.true(rows.slice(16).every((r) => (r['rewards/accuracies'] as number) >= 0));
});

test.serial('bfloat16 compute runs and agrees with float32 on the first step', async (t) => {
  const f32 = await run({ loss: 'rdpo', refModel: refDir, batchSize: 4, dtype: 'float32' });
  const bf16 = await run({ loss: 'rdpo', refModel: refDir, batchSize: 4, dtype: 'bfloat16' });
  for (const k of ['loss', 'logps/chosen', 'logps/rationale']) {
    const a = f32[0]![k] as number;
    const b = bf16[0]![k] as number;
    t.true(Number.isFinite(b), `bf16 ${k} = ${b}`);
    t.true(Math.abs(a - b) <= 0.03 * Math.abs(a), `${k}: float32 ${a}, bfloat16 ${b}`);
  }
  t.true(Number.isFinite(bf16[1]!.loss) && Number.isFinite(bf16[1]!.grad_norm as number));
});

test.serial('the reference log-prob cache is reused for the same key and invalidated when the reference weights change', async (t) => {
  const ref = path.join(box.dir, 'ref-copy');
  cpSync(refDir, ref, { recursive: true });
  // A fresh cache (the key is the weights' content, so earlier tests' entries for refDir would hit).
  const sharedCache = process.env.RDPO_CACHE_DIR;
  process.env.RDPO_CACHE_DIR = path.join(box.dir, 'cache-test');
  t.teardown(() => (process.env.RDPO_CACHE_DIR = sharedCache));
  const logs1: string[] = [];
  const a = await run({ loss: 'dpo', refModel: ref, maxSteps: 1 }, logs1);
  t.true(
    logs1.some((m) => /reference log-probs for 8 pairs: [\d.]+ s/.test(m)),
    logs1.join('\n'),
  );
  const logs2: string[] = [];
  const b = await run({ loss: 'dpo', refModel: ref, maxSteps: 1 }, logs2);
  t.true(
    logs2.some((m) => /reference log-probs for 8 pairs: from cache/.test(m)),
    logs2.join('\n'),
  );
  t.is(b[0]!['rewards/chosen'], a[0]!['rewards/chosen']);
  // The weights' content digest is remembered under the files' identity (path, inode, size, mtime): hashed once.
  const memos = () => readdirSync(process.env.RDPO_CACHE_DIR!).filter((f) => f.startsWith('weights-digest-'));
  t.is(memos().length, 1);

  // Change one weight of the reference (same size, still a valid file): the cache must not be used.
  const file = path.join(ref, 'model.safetensors');
  const bytes = readFileSync(file);
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  bytes.writeFloatLE(bytes.readFloatLE(headerEnd) + 0.5, headerEnd);
  writeFileSync(file, bytes);
  const logs3: string[] = [];
  const c = await run({ loss: 'dpo', refModel: ref, maxSteps: 1 }, logs3);
  t.true(
    logs3.some((m) => /reference log-probs for 8 pairs: [\d.]+ s/.test(m)),
    logs3.join('\n'),
  );
  t.not(c[0]!['rewards/chosen'], a[0]!['rewards/chosen']);
  t.is(c[0]!['logps/chosen'], a[0]!['logps/chosen'], 'the policy is the same');
  t.is(memos().length, 2, 'the rewritten file has a new identity, so its content was hashed again');

  // Without the cache nothing is keyed: the weights are not hashed at all.
  cpSync(ref, path.join(box.dir, 'ref-copy-2'), { recursive: true });
  await run({ loss: 'dpo', refModel: path.join(box.dir, 'ref-copy-2'), maxSteps: 1, refCache: false }, []);
  t.is(memos().length, 2);
});

test.serial('rationale losses on data without rationales: an error that says what to do', async (t) => {
  for (const loss of ['rdpo', 'rorpo', 'rsimpo', 'rationale-only'] as const) {
    const err = await t.throwsAsync(run({ loss, data: box.dataNoRationale, refModel: refDir }));
    t.regex(err!.message, /8 of 8 pairs in .*pairs-no-rationale\.jsonl have no rationale/);
    t.regex(err!.message, /rdpo-native rationales --data/);
    t.regex(err!.message, /--loss dpo/);
  }
});

test.serial('bad settings: the CLI names the key and the allowed values (exit 2)', async (t) => {
  ensureDist();
  const base = ['train', '--model', policyDir, '--data', box.data, '--out', path.join(box.dir, 'never')];
  const loss = await runCli([...base, '--loss', 'dpo2']);
  t.is(loss.code, 2, loss.stderr);
  t.regex(loss.stderr, /'loss': "dpo2" is not allowed; use one of sft, dpo, rdpo, orpo, rorpo, simpo, rsimpo, rationale-only/);
  const dtype = await runCli([...base, '--dtype', 'float64']);
  t.is(dtype.code, 2, dtype.stderr);
  t.regex(dtype.stderr, /'dtype': "float64" is not allowed; use one of auto, float32, bfloat16/);

  const yaml = path.join(box.dir, 'run.yaml');
  writeFileSync(yaml, `model: ${policyDir}\ndata: ${box.data}\nloss: dpo\nlearning_rate: 1e-6\n`);
  const unknown = await runCli(['train', '--config', yaml, '--out', path.join(box.dir, 'never2')]);
  t.is(unknown.code, 2, unknown.stderr);
  t.regex(unknown.stderr, /unknown key\(s\) 'learningRate': allowed keys are model, refModel, .*lr/);
  const number = await runCli([...base, '--beta', 'abc']);
  t.is(number.code, 2, number.stderr);
  t.regex(number.stderr, /--beta must be a number, got "abc"/);
});

test.serial('a trained run directory holds a Hugging Face model with its tokenizer', async (t) => {
  const out = path.join(box.dir, 'hf');
  const result = await train(
    { model: policyDir, refModel: refDir, data: box.data, out, loss: 'rdpo', batchSize: 4, maxSteps: 1, lr: 1e-3, warmupSteps: 0, maxLength: 256 },
    { log: () => {} },
  );
  for (const f of ['model.safetensors', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'trainer_state.json']) {
    t.notThrows(() => readFileSync(path.join(result.finalModelDir!, f)), f);
  }
  const config = JSON.parse(readFileSync(path.join(result.finalModelDir!, 'config.json'), 'utf8')) as { architectures: string[]; vocab_size: number };
  t.deepEqual(config.architectures, ['LlamaForCausalLM']);
  t.is(config.vocab_size, 1500);
});

test.serial('the fused output layer: one row per chunk and one chunk for all rows give the same loss and gradient norm', async (t) => {
  const many = await run({ loss: 'rdpo', refModel: refDir, batchSize: 4, logitsChunk: 1 });
  const one = await run({ loss: 'rdpo', refModel: refDir, batchSize: 4, logitsChunk: 1 << 20 });
  let worst = 0;
  for (let i = 0; i < 2; i++) {
    for (const k of ['loss', 'grad_norm', 'logps/chosen', 'logps/rejected', 'logps/rationale']) {
      const a = many[i]![k] as number;
      const b = one[i]![k] as number;
      worst = Math.max(worst, Math.abs(a - b) / Math.abs(b));
      t.true(Math.abs(a - b) <= 1e-5 * Math.abs(b), `step ${i + 1} ${k}: chunk 1 ${a}, one chunk ${b}`);
    }
  }
  t.log(`largest relative difference ${worst.toExponential(2)}`);
});

test.serial('gradient accumulation: 2 micro-batches of 4 pairs step like one batch of 8 (DPO: a mean over pairs)', async (t) => {
  const whole = await run({ loss: 'dpo', refModel: refDir, batchSize: 8, gradAccum: 1, maxGradNorm: 1 });
  const split = await run({ loss: 'dpo', refModel: refDir, batchSize: 4, gradAccum: 2, maxGradNorm: 1 });
  for (let i = 0; i < 2; i++) {
    for (const k of ['loss', 'grad_norm', 'rewards/margins', 'logps/chosen', 'tokens']) {
      const a = split[i]![k] as number;
      const b = whole[i]![k] as number;
      t.true(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `step ${i + 1} ${k}: accumulated ${a}, one batch ${b}`);
    }
  }
});
