// train() against TRL's own trainers (test/fixtures/trl_parity.json, made by
// scripts/fixtures/make_trl_parity.py): the same tiny policy, an explicit *different* reference
// model, eight plain-text pairs in one batch, AdamW lr 1e-3 with gradient clipping at 1.0.
// Row 1 of metrics.jsonl is computed before any update (TRL's first logged row); row 2 after one
// clipped AdamW step, so it also checks clipping and the optimiser.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tokenizePreferences } from '../lib/tokenize/preference_tokens.js';
import { Tokenizer } from '../lib/tokenize/tokenizer.js';
import type { MetricsRow } from '../lib/train/metrics.js';
import { train } from '../lib/train/trainer.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

interface TrlRun {
  settings: Record<string, number | string>;
  token_ids: Array<{ prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }>;
  rows: Array<Record<string, number>>;
}
const fixture = JSON.parse(readFileSync(path.join(here, 'fixtures', 'trl_parity.json'), 'utf8')) as {
  policy: string;
  reference: string;
  optimizer: { lr: number; max_grad_norm: number };
  pairs: Array<{ prompt: string; chosen: string; rejected: string }>;
  dpo: TrlRun;
  orpo: TrlRun;
  simpo: TrlRun;
};
const policyDir = path.join(root, fixture.policy);
const refDir = path.join(root, fixture.reference);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rdpo-trl-parity-'));
process.env.RDPO_CACHE_DIR = path.join(tmp, 'cache');
const dataFile = path.join(tmp, 'pairs.jsonl');
writeFileSync(dataFile, fixture.pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

async function ours(loss: 'dpo' | 'orpo' | 'simpo', extra: Record<string, unknown>): Promise<MetricsRow[]> {
  const rows: MetricsRow[] = [];
  await train(
    {
      model: policyDir,
      ...(loss === 'dpo' ? { refModel: refDir } : {}),
      data: dataFile,
      out: path.join(tmp, loss),
      loss,
      ...extra,
      // TRL's convention for text prompts (the parity fixture's rows are text).
      promptFormat: 'plain',
      batchSize: fixture.pairs.length,
      maxSteps: 2,
      lr: fixture.optimizer.lr,
      schedule: 'constant',
      warmupSteps: 0,
      maxGradNorm: fixture.optimizer.max_grad_norm,
      maxLength: 4096,
      maxPromptLength: 4096,
      dtype: 'float32',
    },
    { onStep: (r) => rows.push(r), log: () => {} },
  );
  return rows;
}

/** |a − b| ≤ tol·max(1, |b|): absolute near zero, relative for large log-probs. */
function close(t: import('ava').ExecutionContext, actual: number | undefined, expected: number, tol: number, what: string): void {
  t.is(typeof actual, 'number', `${what} missing`);
  const diff = Math.abs((actual as number) - expected);
  t.true(diff <= tol * Math.max(1, Math.abs(expected)), `${what}: ours ${actual}, TRL ${expected} (diff ${diff.toExponential(2)})`);
}

const METRICS = ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'];

test('plain-text tokenization equals what TRL trained on', (t) => {
  const tokenizer = Tokenizer.load(policyDir);
  const { pairs } = tokenizePreferences(tokenizer, fixture.pairs, { format: 'plain', maxLength: 4096, maxPromptLength: 4096 });
  const mine = pairs.map((p) => ({ prompt_ids: p.promptIds, chosen_ids: p.chosenIds, rejected_ids: p.rejectedIds }));
  t.deepEqual(mine, fixture.dpo.token_ids);
  t.deepEqual(mine, fixture.orpo.token_ids);
});

test('DPO (sigmoid, explicit reference): step-0 loss and metrics, then one clipped AdamW step, match TRL DPOTrainer', async (t) => {
  const rows = await ours('dpo', { beta: fixture.dpo.settings.beta });
  const [trl0, trl1] = fixture.dpo.rows;
  for (const k of ['loss', 'grad_norm', ...METRICS]) close(t, rows[0]![k] as number, trl0![k]!, 1e-4, `step 1 ${k}`);
  // After one update: float32 AdamW on slightly differently ordered sums, so a looser bound.
  for (const k of ['loss', 'grad_norm', ...METRICS]) close(t, rows[1]![k] as number, trl1![k]!, 1e-3, `step 2 ${k}`);
});

test('SimPO: step-0 loss and metrics match TRL CPOTrainer(loss_type=simpo, cpo_alpha=0)', async (t) => {
  const s = fixture.simpo.settings;
  const rows = await ours('simpo', { beta: s.beta, simpoMargin: s.simpo_gamma });
  const [trl0, trl1] = fixture.simpo.rows;
  for (const k of ['loss', 'grad_norm', ...METRICS]) close(t, rows[0]![k] as number, trl0![k]!, 1e-4, `step 1 ${k}`);
  for (const k of ['loss', 'grad_norm', ...METRICS]) close(t, rows[1]![k] as number, trl1![k]!, 1e-3, `step 2 ${k}`);
});

test('ORPO: the odds-ratio term and metrics match TRL ORPOTrainer; the NLL is over the completion, not prompt + completion', async (t) => {
  const rows = await ours('orpo', { beta: fixture.orpo.settings.beta });
  const trl0 = fixture.orpo.rows[0]!;
  for (const k of [...METRICS, 'log_odds_ratio', 'log_odds_chosen']) close(t, rows[0]![k] as number, trl0[k]!, 1e-4, `step 1 ${k}`);
  // TRL ORPO's nll_loss is the token mean over prompt + chosen (its concatenated_forward labels
  // every attended token). Ours, like the ORPO paper's L_SFT and the RDPO authors' RORPO, averages
  // over the chosen completion only; the script computes that value with transformers.
  const completionNll = fixture.orpo.settings.nll_completion_only_step1 as number;
  close(t, rows[0]!.nll_loss as number, completionNll, 1e-4, 'step 1 nll_loss (completion only)');
  t.true(Math.abs(trl0.nll_loss! - completionNll) > 1e-2, 'TRL scores the prompt too');
  // loss = NLL − β·mean log σ(log_odds): the odds-ratio term equals TRL's.
  close(t, rows[0]!.loss - (rows[0]!.nll_loss as number), trl0.loss! - trl0.nll_loss!, 1e-4, 'step 1 loss − nll_loss');
});
