// The training configuration: one zod schema gives the defaults, the checks, and error
// messages that name the key and what is allowed. CLI flags override a --config file.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import type { NativeTrainerOptions } from '../native/binding.js';
import {
  DPO_VARIANTS,
  LOSS_CATALOGUE,
  LOSS_NAMES,
  RATIONALE_FORMS,
  RATIONALE_NORMS,
  type LossName,
  type LossSpec,
  type RationaleFormName,
  type RationaleNormName,
} from '../native/loss_catalogue.generated.js';
import { parseHubModelId } from '../hub/hf_cache.js';
import { parseHubDatasetSpec } from '../hub/dataset_spec.js';
import { PROMPT_FORMATS } from '../tokenize/prompt_format.js';
import { ConfigError } from './config_error.js';
import { PRESETS, applyPreset } from './presets.js';
import { REPORT_TO } from './report_to.js';
import { WARMUP_FORMS, type WarmupForm } from './schedule.js';
import { COMPUTE_DTYPE_CHOICES, type ComputeDtype } from '../model/compute_dtype.js';

/** The loss names, from the core's loss catalogue (lib/native/loss_catalogue.generated.ts). */
export const LOSSES = LOSS_NAMES;
export type { LossName };

const positiveInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

export const TrainConfigSchema = z
  .object({
    model: z.string().min(1),
    refModel: z.string().min(1).optional(),
    data: z.string().min(1),
    dataFormat: z.string().optional(),
    skipInvalid: z.boolean().default(false),
    limit: positiveInt.optional(),
    out: z.string().min(1).optional(),
    /** A named set of defaults (presets.ts); explicit keys win over it. */
    preset: z.enum(PRESETS).optional(),
    /** The prompt-format rule (tokenize/prompt_format.ts); a run records the resolved chat/plain. */
    promptFormat: z.enum(PROMPT_FORMATS).default('auto'),
    /** Which end of an over-long prompt survives; auto: per dataset, as the authors' code (data/truncation.ts). */
    truncationMode: z.enum(['auto', 'keep_start', 'keep_end']).default('auto'),

    loss: z.enum(LOSSES).default('rdpo'),
    dpoVariant: z.enum(DPO_VARIANTS).default('sigmoid'),
    /** Unset: the loss's own (the loss catalogue: RDPO the authors' released −log σ(γ·Σ log π(r)), RORPO rorpo-simple's linear form). */
    rationaleForm: z.enum(RATIONALE_FORMS).optional(),
    rationaleNorm: z.enum(RATIONALE_NORMS).optional(),
    beta: z.number().positive().optional(),
    gamma: z.number().nonnegative().optional(),
    labelSmoothing: z.number().min(0).max(0.5).default(0),
    simpoMargin: z.number().optional(),
    sftWeight: z.number().nonnegative().default(0),

    lr: z.number().positive().default(5e-7),
    schedule: z.enum(['constant', 'linear', 'cosine']).default('constant'),
    warmupSteps: nonNegInt.default(150),
    /** The warm-up's factor: hf s/W (transformers), halos (s+1)/(W+1) (the RDPO authors' code); unset: hf. */
    warmupForm: z.enum(WARMUP_FORMS as [WarmupForm, ...WarmupForm[]]).optional(),
    /** Only full batches (the RDPO authors' data loader); unset: the last, smaller batch of an epoch trains too. */
    dropLastBatch: z.boolean().optional(),
    weightDecay: z.number().nonnegative().default(0),
    adamBeta1: z.number().min(0).max(1).default(0.9),
    adamBeta2: z.number().min(0).max(1).default(0.999),
    adamEps: z.number().positive().default(1e-8),
    maxGradNorm: z.number().nonnegative().default(10),
    batchSize: positiveInt.default(4),
    gradAccum: positiveInt.default(1),
    maxLength: positiveInt.default(1024),
    maxPromptLength: positiveInt.default(512),
    maxSteps: positiveInt.optional(),
    epochs: z.number().positive().default(1),

    /** Compute dtype; auto: bf16 where the device computes it natively, else float32 (model/compute_dtype.ts). */
    dtype: z.enum(COMPUTE_DTYPE_CHOICES).default('auto'),
    device: z
      .string()
      .regex(/^(cpu|cuda(:\d+)?|mps)$/, 'use cpu, cuda, cuda:N or mps')
      .default('cpu'),
    threads: positiveInt.optional(),
    gradientCheckpointing: z.boolean().default(false),
    logitsChunk: positiveInt.default(1024),
    seed: nonNegInt.default(42),

    evalEvery: nonNegInt.default(0),
    evalSize: nonNegInt.optional(),
    evalFraction: z.number().min(0).max(0.5).optional(),
    saveEvery: nonNegInt.default(0),
    refCache: z.boolean().default(true),
    // A NaN/inf loss or gradient: stop the run (exit non-zero, last good checkpoint kept), or
    // skip that optimiser step and go on. Non-finite gradients never reach the weights either way.
    onNonfinite: z.enum(['stop', 'skip-step']).default('stop'),
    resume: z.string().optional(),
    // TRL's report_to: trackers besides metrics.jsonl (report_to.ts). No default, so other runs keep
    // their config digest; unset is `none`.
    reportTo: z
      .union([z.enum(REPORT_TO), z.array(z.enum(REPORT_TO))], { error: `use ${REPORT_TO.join(', ')}, or a list of them (more trackers are not built in yet)` })
      .optional(),
    // Data-parallel ZeRO stage (docs/distributed.md): 1 shards the AdamW state, reduce-scatters the
    // gradients and all-gathers the parameters. No default, so other runs keep their config digest;
    // unset reads RDPO_DDP_ZERO=1. Without ranks it changes nothing.
    zero: z.union([z.literal(0), z.literal(1)]).optional(),

    // LoRA (model/lora.ts, docs/lora.md): a frozen base in its checkpoint dtype, float32 adapters.
    // No defaults here (they are applied where used), so runs without LoRA keep their config digest.
    loraR: positiveInt.optional(),
    /** Default loraR (scaling 1). */
    loraAlpha: z.number().positive().optional(),
    loraDropout: z.number().min(0).lt(1).optional(),
    /** all-linear (default) or comma-separated module names/suffixes: q_proj,k_proj,v_proj,o_proj. */
    loraTargets: z.string().min(1).optional(),
    loraRslora: z.boolean().optional(),
    /** Continue training this PEFT adapter directory (its r, alpha, targets) on `model`. */
    adapter: z.string().min(1).optional(),
  })
  .strict();

export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

/**
 * How the command line reads a key's flag: a number (checked here, then by the schema), a string
 * (the schema checks it), a switch (`--skip-invalid`), a negated switch (`--no-ref-cache` for a
 * key that defaults to true), a comma-separated list (one item stays a string), or a dtype (its short
 * spellings bf16/f32 read as the full names).
 */
export type ConfigFlagKind = 'number' | 'string' | 'switch' | 'negated-switch' | 'list' | 'dtype';

export interface ConfigKeyFlag {
  kind: ConfigFlagKind;
  /** The value's placeholder in `--help` (`--lr <x>`); switches take none. */
  value?: string;
  /** The help text; `--help` adds the schema's default. */
  help: string;
}

// The rationale-weight defaults per loss, from the core's loss catalogue, for --gamma's help.
const GAMMA_DEFAULTS = LOSS_CATALOGUE.losses
  .filter((l) => l.needsRationale)
  .map((l) => `${l.name} ${l.defaults.gamma} (${l.defaults.rationaleForm})`)
  .join(', ');

/**
 * Each schema key's command-line flag (the key in kebab-case: `batchSize` → `--batch-size`), in the
 * order `train --help` lists them. The CLI's train options are generated from this table, and the
 * `satisfies` makes a key without a flag, or a flag without a key, a type error.
 */
export const TRAIN_CONFIG_FLAGS = {
  preset: { kind: 'string', value: 'name', help: "paper: the RDPO authors' set-up (docs/presets.md); flags and config keys override it" },
  promptFormat: {
    kind: 'string',
    value: 'f',
    help: 'auto (chat when the tokenizer has a chat template) | chat (text prompts as a user turn) | plain (TRL: text as text)',
  },
  truncationMode: { kind: 'string', value: 'm', help: 'auto (per dataset, as the authors) | keep_start | keep_end: which end of an over-long prompt survives' },
  model: { kind: 'string', value: 'dir|org/name[@rev]', help: 'starting policy (Hugging Face directory)' },
  refModel: { kind: 'string', value: 'dir|org/name[@rev]', help: 'reference model (default: the starting policy)' },
  data: {
    kind: 'string',
    value: 'file|org/name[@rev][:split]',
    help: 'preference data (JSONL, JSON, Parquet, .gz), or a hub dataset split (default split train)',
  },
  dataFormat: { kind: 'string', value: 'name', help: 'force the data format' },
  skipInvalid: { kind: 'switch', help: 'skip invalid rows instead of stopping' },
  limit: { kind: 'number', value: 'n', help: 'train on a seeded subset of n pairs (nested across sizes)' },
  loss: { kind: 'string', value: 'name', help: LOSS_NAMES.join(' | ') },
  dpoVariant: { kind: 'string', value: 'name', help: DPO_VARIANTS.join(' | ') },
  rationaleForm: {
    kind: 'string',
    value: 'form',
    help: `${RATIONALE_FORMS.join(' | ')}: logsigmoid −log σ(γ·Σ log π(r)) (the authors' released code; RDPO's default, γ 0.1), paper −γ·log π(r) as printed (γ 2: about 20× the released weight)`,
  },
  rationaleNorm: { kind: 'string', value: 'norm', help: `${RATIONALE_NORMS.join(' | ')} (rationale log-prob over its tokens; default: the loss's own)` },
  beta: { kind: 'number', value: 'x', help: "β (DPO temperature; ORPO λ; SimPO reward scale; default: the loss's own)" },
  gamma: { kind: 'number', value: 'x', help: `γ, the rationale weight (defaults: ${GAMMA_DEFAULTS})` },
  labelSmoothing: { kind: 'number', value: 'x', help: 'label smoothing ε for sigmoid/robust DPO' },
  simpoMargin: { kind: 'number', value: 'x', help: "SimPO target margin (default: the loss's own)" },
  sftWeight: { kind: 'number', value: 'x', help: 'extra chosen-NLL weight' },
  lr: { kind: 'number', value: 'x', help: "peak learning rate (the paper's)" },
  schedule: { kind: 'string', value: 'name', help: 'constant | linear | cosine (after warm-up)' },
  warmupSteps: { kind: 'number', value: 'n', help: 'linear warm-up steps' },
  warmupForm: { kind: 'string', value: 'form', help: "hf: lr·s/W (transformers; default) | halos: lr·(s+1)/(W+1) (the RDPO authors' code; --preset paper)" },
  dropLastBatch: { kind: 'switch', help: "only full batches, as the RDPO authors' data loader (--preset paper)" },
  weightDecay: { kind: 'number', value: 'x', help: 'AdamW weight decay' },
  adamBeta1: { kind: 'number', value: 'x', help: 'AdamW β1' },
  adamBeta2: { kind: 'number', value: 'x', help: 'AdamW β2' },
  adamEps: { kind: 'number', value: 'x', help: 'AdamW ε' },
  maxGradNorm: { kind: 'number', value: 'x', help: 'gradient clipping (0 = off)' },
  batchSize: { kind: 'number', value: 'n', help: 'pairs per micro-batch' },
  gradAccum: { kind: 'number', value: 'n', help: 'micro-batches per optimiser step' },
  maxLength: { kind: 'number', value: 'n', help: 'prompt + completion tokens' },
  maxPromptLength: { kind: 'number', value: 'n', help: 'prompt tokens kept when truncating' },
  maxSteps: { kind: 'number', value: 'n', help: 'optimiser steps (overrides --epochs)' },
  epochs: { kind: 'number', value: 'x', help: 'passes over the training pairs' },
  dtype: {
    kind: 'dtype',
    value: 'dtype',
    help: 'compute dtype: auto (bf16 where the device computes it natively, else float32) | float32 (f32) | bfloat16 (bf16); the master weights stay float32 either way',
  },
  device: { kind: 'string', value: 'device', help: 'cpu | cuda | cuda:N | mps' },
  threads: { kind: 'number', value: 'n', help: "CPU threads for LibTorch (default: LibTorch's)" },
  gradientCheckpointing: { kind: 'switch', help: 'recompute layers in backward to save memory' },
  logitsChunk: { kind: 'number', value: 'n', help: 'rows per chunk of the fused output layer' },
  seed: { kind: 'number', value: 'n', help: 'data order and subsets' },
  evalEvery: { kind: 'number', value: 'n', help: 'evaluate on the held-out split every n steps (0 = never)' },
  evalSize: { kind: 'number', value: 'n', help: 'held-out pairs' },
  evalFraction: { kind: 'number', value: 'x', help: 'held-out share' },
  saveEvery: { kind: 'number', value: 'n', help: 'checkpoint every n steps (0 = only at the end)' },
  onNonfinite: {
    kind: 'string',
    value: 'mode',
    help: 'stop (exit non-zero, keep the last good checkpoint) | skip-step, on a NaN/inf loss or gradient',
  },
  refCache: { kind: 'negated-switch', help: 'recompute reference log-probs instead of reusing the on-disk cache' },
  loraR: { kind: 'number', value: 'n', help: 'train LoRA adapters of rank n (PEFT format) on the frozen base, kept in its checkpoint dtype (docs/lora.md)' },
  loraAlpha: { kind: 'number', value: 'x', help: 'LoRA alpha; the update is scaled by alpha / r (default alpha = r)' },
  loraDropout: { kind: 'number', value: 'p', help: "dropout on the adapters' input while training (default 0)" },
  loraTargets: { kind: 'string', value: 'list', help: 'all-linear (default: every linear layer but the LM head) | q_proj,k_proj,v_proj,o_proj,…' },
  loraRslora: { kind: 'switch', help: 'rank-stabilised scaling alpha / sqrt(r)' },
  adapter: { kind: 'string', value: 'dir', help: 'continue training this PEFT LoRA adapter on --model (its r, alpha, targets)' },
  reportTo: {
    kind: 'list',
    value: 'list',
    help: `where metrics go besides metrics.jsonl: ${REPORT_TO.join(' | ')}, comma-separated (default none; tensorboard: RUN_DIR/tensorboard/)`,
  },
  out: { kind: 'string', value: 'dir', help: 'run directory (default runs/<time>-<loss>)' },
  resume: { kind: 'string', value: 'runDir', help: 'continue a run exactly where its last checkpoint left it' },
  zero: {
    kind: 'number',
    value: 'stage',
    help: 'data-parallel ZeRO stage: 1 shards the AdamW state over the ranks, reduce-scatters the gradients and all-gathers the parameters (default 0, or RDPO_DDP_ZERO=1)',
  },
} as const satisfies Record<keyof TrainConfigInput, ConfigKeyFlag>;

export type TrainConfigKey = keyof typeof TRAIN_CONFIG_FLAGS;

/** The schema's default for a key (what an unset key becomes), or undefined where it has none or it depends on the loss. */
export function schemaDefault(key: TrainConfigKey): unknown {
  const field = TrainConfigSchema.shape[key] as z.ZodType;
  const r = field.safeParse(undefined);
  return r.success ? r.data : undefined;
}
export type TrainConfig = z.output<typeof TrainConfigSchema> & {
  beta: number;
  gamma: number;
  rationaleForm: RationaleFormName;
  rationaleNorm: RationaleNormName;
  simpoMargin: number;
};

/** The catalogue's entry for a loss: what it needs and reads, its defaults and their sources. */
export function lossSpec(loss: LossName): LossSpec {
  const spec = LOSS_CATALOGUE.losses.find((l) => l.name === loss);
  if (!spec) throw new ConfigError(`unknown loss '${String(loss)}'; use one of ${LOSS_NAMES.join(', ')}`);
  return spec;
}

/**
 * Per-loss defaults, as the authors ran them (the core's catalogue holds them with their sources). With
 * no rationale form given, the loss's own form and its γ; a given form brings that form's γ: the
 * paper's linear −γ·log π(r) (gammaPaper) and the released −log σ(γ·log π(r)) (gammaLogsigmoid).
 */
export function lossDefaults(
  loss: LossName,
  rationaleForm?: RationaleFormName,
): { beta: number; gamma: number; rationaleForm: RationaleFormName; rationaleNorm: RationaleNormName; simpoMargin: number } {
  const { defaults, gammaPaper, gammaLogsigmoid } = lossSpec(loss);
  const form = rationaleForm ?? defaults.rationaleForm;
  return {
    beta: defaults.beta,
    gamma: rationaleForm === undefined ? defaults.gamma : form === 'logsigmoid' ? gammaLogsigmoid : gammaPaper,
    rationaleForm: form,
    rationaleNorm: defaults.rationaleNorm,
    simpoMargin: defaults.simpoMargin,
  };
}

export { ConfigError };

/** `batch_size` / `batch-size` → `batchSize`; a key that is not such a name (`__proto__`, `_x`) stays as written. */
function camel(key: string): string {
  if (!/^[a-zA-Z][a-zA-Z0-9]*([-_][a-zA-Z0-9]+)*$/.test(key)) return key;
  return key.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Reads a run.yaml / run.json; keys may be camelCase, kebab-case or snake_case. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = /\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`${file} must hold a mapping of settings (key: value)`);
  }
  const out: Record<string, unknown> = {};
  // defineProperty: a `__proto__` key is kept as a key (and reported as unknown), never set as the prototype.
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>))
    Object.defineProperty(out, camel(k), { value: v, enumerable: true, writable: true, configurable: true });
  // Paths in a config file are relative to the file; a model or dataset given as a hub id
  // (org/name[@rev], org/name[@rev][:split]) with no such local path stays a hub id.
  for (const key of ['model', 'refModel', 'data', 'out', 'resume', 'adapter']) {
    const v = out[key];
    if (typeof v !== 'string' || path.isAbsolute(v)) continue;
    const local = path.resolve(path.dirname(file), v);
    const hubId = key === 'model' || key === 'refModel' ? parseHubModelId(v) : key === 'data' ? parseHubDatasetSpec(v) : null;
    out[key] = !existsSync(local) && hubId ? v : local;
  }
  return out;
}

/** Validates and fills defaults; an error names each bad key and what is allowed. */
export function resolveTrainConfig(rawInput: Record<string, unknown>, source = 'config'): TrainConfig {
  const input = applyPreset(rawInput, source);
  const res = TrainConfigSchema.safeParse(input);
  if (!res.success) {
    const lines = res.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(root)';
      if (issue.code === 'unrecognized_keys') {
        return `unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}: allowed keys are ${Object.keys(TrainConfigSchema.shape).join(', ')}`;
      }
      if (issue.code === 'invalid_value' && 'values' in issue) {
        return `'${key}': ${JSON.stringify(input[key as keyof typeof input])} is not allowed; use one of ${(issue.values as unknown[]).map(String).join(', ')}`;
      }
      if (issue.code === 'invalid_type' && input[key] === undefined) return `'${key}' is required`;
      return `'${key}': ${issue.message}`;
    });
    throw new ConfigError(`invalid ${source}:\n  - ${lines.join('\n  - ')}`);
  }
  const c = res.data;
  const loraKeys = (['loraAlpha', 'loraDropout', 'loraTargets', 'loraRslora'] as const).filter((k) => c[k] !== undefined);
  if (c.loraR === undefined && c.adapter === undefined && loraKeys.length > 0) {
    throw new ConfigError(`invalid ${source}:\n  - '${loraKeys[0]}' needs loraR (--lora-r) or adapter (--adapter): LoRA is off without a rank`);
  }
  if (c.adapter !== undefined && (c.loraR !== undefined || loraKeys.length > 0)) {
    throw new ConfigError(
      `invalid ${source}:\n  - 'adapter': the adapter directory (adapter_config.json) fixes r, alpha, dropout and targets; drop loraR/loraAlpha/loraDropout/loraTargets/loraRslora`,
    );
  }
  const d = lossDefaults(c.loss, c.rationaleForm);
  return {
    ...c,
    beta: c.beta ?? d.beta,
    gamma: c.gamma ?? d.gamma,
    rationaleForm: d.rationaleForm,
    rationaleNorm: c.rationaleNorm ?? d.rationaleNorm,
    simpoMargin: c.simpoMargin ?? d.simpoMargin,
  };
}

/** The native trainer's options for a resolved configuration and the compute dtype `dtype` resolved to. */
export function nativeTrainerOptions(c: TrainConfig, computeDtype: ComputeDtype): NativeTrainerOptions {
  return {
    loss: c.loss,
    dpoVariant: c.dpoVariant,
    rationaleForm: c.rationaleForm,
    rationaleNorm: c.rationaleNorm,
    beta: c.beta,
    gamma: c.gamma,
    labelSmoothing: c.labelSmoothing,
    simpoMargin: c.simpoMargin,
    sftWeight: c.sftWeight,
    adamBeta1: c.adamBeta1,
    adamBeta2: c.adamBeta2,
    adamEps: c.adamEps,
    weightDecay: c.weightDecay,
    computeDtype,
    gradientCheckpointing: c.gradientCheckpointing,
    logitsChunk: c.logitsChunk,
  };
}
