import { resolveComputeDtype } from '../../model/compute_dtype.js';
import { dtypeMachine } from '../../native/runtime.js';
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { wholeNumberOption as wholeNumber } from '../number_options.js';
import { canonicalDtype } from '../dtype_option.js';
import { runBench, type BenchDtype, type BenchLoss, type BenchOptions } from '../../bench/run_bench.js';
import { formatResult } from '../../bench/result.js';
import { trainerStepper } from '../../bench/trainer_stepper.js';

interface BenchCliOptions {
  model: string;
  data: string;
  loss: string;
  batchSize: string;
  maxLength: string;
  maxPromptLength: string;
  dtype: string;
  device: string;
  warmup: string;
  steps: string;
  phases?: boolean;
  lr: string;
  beta: string;
  seed: string;
  threads?: string;
  profile?: string;
  matmulSize?: string;
  json?: boolean;
}

function positiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got "${value}"`);
  return n;
}

function oneOf<T extends string>(value: string, flag: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

/** Checks the CLI's options and turns them into BenchOptions (exported for tests). */
export function parseBenchOptions(o: BenchCliOptions): BenchOptions {
  if (!existsSync(path.join(o.model, 'config.json'))) {
    throw new UsageError(`--model ${o.model}: no config.json there; pass a Hugging Face model directory (config.json, *.safetensors, tokenizer.json)`);
  }
  if (!existsSync(o.data) || !statSync(o.data).isFile()) throw new UsageError(`--data ${o.data}: no such file`);
  if (!/^(cpu|cuda(:\d+)?|mps)$/.test(o.device)) throw new UsageError(`--device must be cpu, cuda, cuda:N or mps, got "${o.device}"`);
  return {
    model: o.model,
    data: o.data,
    loss: oneOf<BenchLoss>(o.loss, '--loss', ['dpo', 'rdpo']),
    batchSize: wholeNumber(o.batchSize, '--batch-size', 1),
    maxLength: wholeNumber(o.maxLength, '--max-length', 2),
    maxPromptLength: wholeNumber(o.maxPromptLength, '--max-prompt-length', 1),
    dtype: oneOf<BenchDtype>(o.dtype, '--dtype', ['float32', 'bfloat16']),
    device: o.device,
    warmup: wholeNumber(o.warmup, '--warmup', 0),
    steps: wholeNumber(o.steps, '--steps', 1),
    phases: o.phases ?? false,
    lr: positiveNumber(o.lr, '--lr'),
    beta: positiveNumber(o.beta, '--beta'),
    seed: wholeNumber(o.seed, '--seed', 0),
    ...(o.threads !== undefined ? { threads: wholeNumber(o.threads, '--threads', 1) } : {}),
    ...(o.profile ? { profile: path.resolve(o.profile) } : {}),
    ...(o.matmulSize !== undefined ? { matmulSize: wholeNumber(o.matmulSize, '--matmul-size', 16) } : {}),
  };
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time optimiser steps of DPO/RDPO training: tokens/s, median step, MFU, peak memory')
    .requiredOption('--model <dir|org/name[@rev]>', 'Hugging Face model directory (config.json, *.safetensors, tokenizer.json)')
    .requiredOption('--data <file>', 'preference pairs; the first (warm-up + steps) × batch-size are used, in file order')
    .option('--loss <name>', 'dpo or rdpo', 'dpo')
    .option('--batch-size <n>', 'preference pairs per optimiser step', '2')
    .option('--max-length <n>', 'maximum tokens per sequence', '1024')
    .option('--max-prompt-length <n>', 'maximum prompt tokens', '512')
    .option(
      '--dtype <name>',
      'compute dtype: auto (bf16 where the device computes it natively, else float32) | float32 (f32) | bfloat16 (bf16) (autocast over float32 weights)',
      'auto',
    )
    .option('--device <name>', 'cpu, cuda, cuda:N', 'cpu')
    .option('--warmup <n>', 'untimed steps first', '2')
    .option('--steps <n>', 'timed optimiser steps', '5')
    .option('--phases', 'also time forward + loss without gradients per batch (untimed) to split out backward')
    .option('--lr <x>', 'learning rate', '5e-7')
    .option('--beta <x>', 'DPO beta', '0.1')
    .option('--seed <n>', 'seed', '0')
    .option('--threads <n>', "intra-op threads (default: LibTorch's)")
    .option(
      '--profile <file>',
      "write a Chrome trace of LibTorch's profiler over the steps (default: $RDPO_PROFILE); see bench/profile_table.mjs",
      process.env.RDPO_PROFILE,
    )
    .option('--matmul-size <n>', 'matrix size of the matmul peak measurement (default 1024 on CPU, 8192 on GPU)')
    .option('--json', 'print one JSON object')
    .action(async (o: BenchCliOptions) => {
      o = { ...o, dtype: canonicalDtype(o.dtype) };
      if (o.dtype === 'auto' || o.dtype === 'bfloat16') {
        const decision = resolveComputeDtype(o.dtype, o.device, dtypeMachine());
        process.stderr.write(`${decision.reason}\n${decision.warning ? `warning: ${decision.warning}\n` : ''}`);
        o = { ...o, dtype: decision.dtype };
      }
      const opts = parseBenchOptions(o);
      if (!o.json) {
        opts.onStep = (i, s, warm) => process.stderr.write(`step ${i + 1}/${opts.warmup + opts.steps}${warm ? ' (warm-up)' : ''}: ${s.toFixed(3)} s\n`);
      }
      const result = await runBench(opts, trainerStepper);
      console.log(o.json ? JSON.stringify(result) : formatResult(result));
    });
}
