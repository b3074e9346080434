// Named sets of training defaults. `--preset paper` is the set-up of the RDPO authors
// (Just et al., arXiv 2407.14477, and their code, reds-lab/preference-learning-with-rationales, a fork
// of ContextualAI/HALOs). A preset fills keys the user did not set; explicit keys always win.
// docs/presets.md lists every value with its source.
import { ConfigError } from './config_error.js';

export const PRESETS = ['paper'] as const;
export type PresetName = (typeof PRESETS)[number];

/** The authors' effective batch: config.yaml batch_size 32 with gradient_accumulation_steps 1. */
export const PAPER_EFFECTIVE_BATCH = 32;

/** Each value with where it comes from (the docs table is written from this). */
export const PAPER_PRESET: Record<string, { value: unknown; source: string }> = {
  lr: { value: 5e-7, source: 'config/config.yaml:55 `lr: 5e-7`' },
  warmupSteps: { value: 150, source: 'config/config.yaml:68 `warmup_steps: 150`' },
  warmupForm: { value: 'halos', source: 'trainers.py:343 `LambdaLR(lr_lambda=lambda step: min(1.0, (step + 1) / (warmup_steps + 1)))`' },
  schedule: { value: 'constant', source: 'trainers.py:343: the same LambdaLR stays at 1 after the warm-up (constant)' },
  dropLastBatch: { value: true, source: 'dataloader.py:905 yields a batch only `if len(batch) == self.batch_size` (the last, smaller one is dropped)' },
  maxGradNorm: { value: 10, source: 'config/model/base_model.yaml:25 `max_grad_norm: 10.0`' },
  maxLength: { value: 2048, source: 'config/model/base_model.yaml:31 `max_length: 2048`' },
  maxPromptLength: { value: 1024, source: 'config/model/base_model.yaml:34 `max_prompt_length: 1024`' },
  truncationMode: {
    value: 'auto',
    source: "dataloader.py:48 `truncation_mode = 'keep_end'` by default; dataloader.py:384–685 `keep_start` for Orca, UltraFeedback and the rationale sets",
  },
  epochs: { value: 1, source: 'config/config.yaml:58 `n_epochs: 1`' },
  dtype: {
    value: 'auto',
    source:
      'config/model/base_model.yaml:16 `policy_dtype: bfloat16` on their GPUs; auto is bf16 where the device computes it natively, float32 where bf16 is emulated (about 15× slower on such a CPU)',
  },
  weightDecay: {
    value: 0.01,
    source: "trainers.py:342 builds `torch.optim.AdamW(self.policy.parameters(), lr=self.config.lr)`: PyTorch's default weight_decay 0.01",
  },
  beta: { value: 0.1, source: 'config/loss/rdpo.yaml:5 `beta: 0.1`' },
  promptFormat: {
    value: 'auto',
    source: 'dataloader.py:118 wraps every prompt in human_prefix … assistant_prefix (config/config.yaml:98–115, the chat format)',
  },
  // batchSize/gradAccum: effective 32 (config/model/base_model.yaml:39 `batch_size: 32`), see applyPreset;
  // the loss's form and γ: the loss catalogue's defaults, which are the released code's (config.ts lossDefaults).
};

/** Fills the preset's values into the keys the input leaves unset. */
export function applyPreset(input: Record<string, unknown>, source = 'config'): Record<string, unknown> {
  const name = input.preset;
  if (name === undefined) return input;
  if (name !== 'paper') throw new ConfigError(`invalid ${source}:\n  - 'preset': ${JSON.stringify(name)} is not a preset; use one of ${PRESETS.join(', ')}`);
  const out: Record<string, unknown> = { ...input };
  for (const [key, { value }] of Object.entries(PAPER_PRESET)) if (out[key] === undefined) out[key] = value;
  // Effective batch 32 = batch × grad-accum; a given batch size sets the accumulation to match.
  const batch = out.batchSize as number | undefined;
  const accum = out.gradAccum as number | undefined;
  if (batch === undefined && accum === undefined) {
    out.batchSize = 4;
    out.gradAccum = PAPER_EFFECTIVE_BATCH / 4;
  } else if (batch !== undefined && accum === undefined) {
    if (!Number.isInteger(batch) || batch < 1 || PAPER_EFFECTIVE_BATCH % batch !== 0) {
      throw new ConfigError(
        `invalid ${source}:\n  - 'batchSize': preset paper keeps an effective batch of ${PAPER_EFFECTIVE_BATCH} (batch × grad-accum), ` +
          `so the batch size must divide ${PAPER_EFFECTIVE_BATCH}; got ${String(batch)}. Use 1, 2, 4, 8, 16 or 32, or set gradAccum too`,
      );
    }
    out.gradAccum = PAPER_EFFECTIVE_BATCH / batch;
  } else if (batch === undefined && accum !== undefined) {
    if (!Number.isInteger(accum) || accum < 1 || PAPER_EFFECTIVE_BATCH % accum !== 0) {
      throw new ConfigError(
        `invalid ${source}:\n  - 'gradAccum': preset paper keeps an effective batch of ${PAPER_EFFECTIVE_BATCH}, so grad-accum must divide it; got ${String(accum)}`,
      );
    }
    out.batchSize = PAPER_EFFECTIVE_BATCH / accum;
  }
  return out;
}
