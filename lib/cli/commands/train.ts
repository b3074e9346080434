// `rdpo-native train`: with --model/--data (or --config) trains one run; with no arguments runs
// the built-in offline demo (SFT, then DPO and RDPO, then an exact-checker evaluation).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { runDemo, runDemoPilot } from '../../demo/run_demo.js';
import { ConfigError, readConfigFile, type TrainConfigInput } from '../../train/config.js';
import { resolvedRunConfig, train, type TrainRunOptions } from '../../train/trainer.js';
import { planTraining } from '../../train/plan.js';
import { handleStopSignals } from '../../jobs/interrupt.js';
import { DirLockedError } from '../../util/dir_lock.js';
import { DataParallelSetupError, rankEnv } from '../../train/data_parallel.js';
import { launchRanks, MAX_RANKS_PER_CORE, rankCountVerdict, withoutNproc } from '../../train/launcher.js';
import { loadNative } from '../../native/load.js';
import { formatMemoryPlan } from '../../train/memory_plan.js';
import { HubDownloadError } from '../../hub/download_model.js';
import { UsageError } from '../../errors.js';
import { REPORT_TO } from '../../train/report_to.js';
import { writeRunReport } from '../../report/run_report.js';
import { DPO_VARIANTS, LOSS_CATALOGUE, LOSS_NAMES, RATIONALE_FORMS, RATIONALE_NORMS } from '../../native/loss_catalogue.generated.js';

// The loss flags' help, from the core's loss catalogue.
const GAMMA_DEFAULTS = LOSS_CATALOGUE.losses
  .filter((l) => l.needsRationale)
  .map((l) => `${l.name} ${l.defaults.gamma} (${l.defaults.rationaleForm})`)
  .join(', ');

// flag → config key, and how to read the flag's text
const NUMBER_FLAGS: Record<string, string> = {
  beta: 'beta',
  gamma: 'gamma',
  lr: 'lr',
  labelSmoothing: 'labelSmoothing',
  simpoMargin: 'simpoMargin',
  sftWeight: 'sftWeight',
  weightDecay: 'weightDecay',
  adamBeta1: 'adamBeta1',
  adamBeta2: 'adamBeta2',
  adamEps: 'adamEps',
  maxGradNorm: 'maxGradNorm',
  batchSize: 'batchSize',
  gradAccum: 'gradAccum',
  maxLength: 'maxLength',
  maxPromptLength: 'maxPromptLength',
  maxSteps: 'maxSteps',
  epochs: 'epochs',
  warmupSteps: 'warmupSteps',
  seed: 'seed',
  evalEvery: 'evalEvery',
  evalSize: 'evalSize',
  evalFraction: 'evalFraction',
  saveEvery: 'saveEvery',
  limit: 'limit',
  threads: 'threads',
  logitsChunk: 'logitsChunk',
  loraR: 'loraR',
  loraAlpha: 'loraAlpha',
  loraDropout: 'loraDropout',
  zero: 'zero',
};
const STRING_FLAGS = [
  'model',
  'refModel',
  'data',
  'dataFormat',
  'out',
  'loss',
  'dpoVariant',
  'rationaleForm',
  'rationaleNorm',
  'schedule',
  'dtype',
  'device',
  'resume',
  'preset',
  'promptFormat',
  'truncationMode',
  'onNonfinite',
  'loraTargets',
  'adapter',
  'warmupForm',
];
const BOOLEAN_FLAGS = ['skipInvalid', 'gradientCheckpointing', 'refCache', 'loraRslora', 'dropLastBatch'];

function number(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n))
    throw new UsageError(`--${flag.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be a number, got "${text}"`);
  return n;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train with SFT, DPO, RDPO, ORPO, RORPO, SimPO (no arguments: the built-in offline demo)')
    .option('--config <file>', 'run.yaml or run.json; flags override it')
    .option('--preset <name>', "paper: the RDPO authors' set-up (docs/presets.md); flags and config keys override it")
    .option('--print-config', "print the resolved configuration (config.json's `config`) as JSON and exit without training")
    .option(
      '--dry-run',
      'load and tokenize the data, print the memory each rank needs (weights, gradients, optimizer, reference, activations) and whether it fits; train nothing',
    )
    .option('--prompt-format <f>', 'auto (chat when the tokenizer has a chat template) | chat (text prompts as a user turn) | plain (TRL: text as text)')
    .option('--truncation-mode <m>', 'auto (per dataset, as the authors) | keep_start | keep_end: which end of an over-long prompt survives')
    .option('--model <dir|org/name[@rev]>', 'starting policy (Hugging Face directory)')
    .option('--ref-model <dir|org/name[@rev]>', 'reference model (default: the starting policy)')
    .option('--data <file|org/name[@rev][:split]>', 'preference data (JSONL, JSON, Parquet, .gz), or a hub dataset split (default split train)')
    .option('--data-format <name>', 'force the data format')
    .option('--skip-invalid', 'skip invalid rows instead of stopping')
    .option('--limit <n>', 'train on a seeded subset of n pairs (nested across sizes)')
    .option('--loss <name>', `${LOSS_NAMES.join(' | ')} (default rdpo)`)
    .option('--dpo-variant <name>', DPO_VARIANTS.join(' | '))
    .option(
      '--rationale-form <form>',
      `${RATIONALE_FORMS.join(' | ')}: logsigmoid −log σ(γ·Σ log π(r)) (the authors' released code; RDPO's default, γ 0.1), paper −γ·log π(r) as printed (γ 2: about 20× the released weight)`,
    )
    .option('--rationale-norm <norm>', `${RATIONALE_NORMS.join(' | ')} (rationale log-prob over its tokens)`)
    .option('--beta <x>', 'β (DPO temperature; ORPO λ; SimPO reward scale)')
    .option('--gamma <x>', `γ, the rationale weight (defaults: ${GAMMA_DEFAULTS})`)
    .option('--label-smoothing <x>', 'label smoothing ε for sigmoid/robust DPO')
    .option('--simpo-margin <x>', 'SimPO target margin')
    .option('--sft-weight <x>', 'extra chosen-NLL weight')
    .option('--lr <x>', "peak learning rate (default 5e-7, the paper's)")
    .option('--schedule <name>', 'constant | linear | cosine (after warm-up)')
    .option('--warmup-steps <n>', 'linear warm-up steps (default 150)')
    .option('--warmup-form <form>', "hf: lr·s/W (transformers; default) | halos: lr·(s+1)/(W+1) (the RDPO authors' code; --preset paper)")
    .option('--drop-last-batch', "only full batches, as the RDPO authors' data loader (--preset paper)")
    .option('--weight-decay <x>', 'AdamW weight decay')
    .option('--adam-beta1 <x>')
    .option('--adam-beta2 <x>')
    .option('--adam-eps <x>')
    .option('--max-grad-norm <x>', 'gradient clipping (0 = off; default 10)')
    .option('--batch-size <n>', 'pairs per micro-batch')
    .option('--grad-accum <n>', 'micro-batches per optimiser step')
    .option('--max-length <n>', 'prompt + completion tokens')
    .option('--max-prompt-length <n>', 'prompt tokens kept when truncating')
    .option('--max-steps <n>', 'optimiser steps (overrides --epochs)')
    .option('--epochs <x>', 'passes over the training pairs (default 1)')
    .option('--dtype <dtype>', 'float32 | bfloat16 compute (float32 master weights either way)')
    .option('--device <device>', 'cpu | cuda | cuda:N | mps')
    .option('--threads <n>', 'CPU threads for LibTorch')
    .option('--gradient-checkpointing', 'recompute layers in backward to save memory')
    .option('--logits-chunk <n>', 'rows per chunk of the fused output layer')
    .option('--seed <n>', 'data order and subsets')
    .option('--eval-every <n>', 'evaluate on the held-out split every n steps')
    .option('--eval-size <n>', 'held-out pairs')
    .option('--eval-fraction <x>', 'held-out share')
    .option('--save-every <n>', 'checkpoint every n steps')
    .option('--on-nonfinite <mode>', 'stop (default: exit non-zero, keep the last good checkpoint) | skip-step, on a NaN/inf loss or gradient')
    .option('--no-ref-cache', 'recompute reference log-probs instead of reusing the on-disk cache')
    .option('--lora-r <n>', 'train LoRA adapters of rank n (PEFT format) on the frozen base, kept in its checkpoint dtype (docs/lora.md)')
    .option('--lora-alpha <x>', 'LoRA alpha; the update is scaled by alpha / r (default alpha = r)')
    .option('--lora-dropout <p>', "dropout on the adapters' input while training (default 0)")
    .option('--lora-targets <list>', 'all-linear (default: every linear layer but the LM head) | q_proj,k_proj,v_proj,o_proj,…')
    .option('--lora-rslora', 'rank-stabilised scaling alpha / sqrt(r)')
    .option('--adapter <dir>', 'continue training this PEFT LoRA adapter on --model (its r, alpha, targets)')
    .option(
      '--report-to <list>',
      `where metrics go besides metrics.jsonl: ${REPORT_TO.join(' | ')}, comma-separated (default none; tensorboard: RUN_DIR/tensorboard/)`,
    )
    .option('--out <dir>', 'run directory (default runs/<time>-<loss>)')
    .option('--resume <runDir>', 'continue a run exactly where its last checkpoint left it')
    .option(
      '--accept-data-change',
      'with --resume: continue although the data file changed since the run started (refused otherwise; the resume is then not exact)',
    )
    .option('--overwrite', 'start again in an --out that already holds a run of ours (its run files are removed; other directories are never overwritten)')
    .option(
      '--nproc <n>',
      'data-parallel: start n ranks on this machine (Gloo with --device cpu, NCCL with --device cuda: rank r on cuda:r); external launchers set RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT instead (docs/distributed.md)',
    )
    .option('--force-nproc', `with --nproc: start the ranks even when they are more than ${MAX_RANKS_PER_CORE}× the CPU cores`)
    .option(
      '--zero <stage>',
      'data-parallel ZeRO stage: 1 shards the AdamW state over the ranks, reduce-scatters the gradients and all-gathers the parameters (default 0, or RDPO_DDP_ZERO=1)',
    )
    .option('--demo-out <dir>', 'where the built-in demo writes (default runs/demo-<time>)')
    .option(
      '--demo-pilot',
      "run the built-in demo's learning-rate pilot instead (docs/demo.md): every arm at every grid point, scored on the validation questions; writes pilot.json",
    )
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const explicit = (key: string) => cmd.getOptionValueSource(key) === 'cli';
      const noTraining = !opts.config && !opts.model && !opts.data && !opts.resume && !opts.printConfig && !opts.preset && !opts.dryRun;
      if (noTraining) {
        const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
        if (opts.demoPilot) {
          const pilot = await runDemoPilot({ outDir: path.resolve((opts.demoOut as string | undefined) ?? path.join('runs', `demo-pilot-${stamp}`)) });
          console.log(`\npilot finished in ${(pilot.seconds / 60).toFixed(1)} min; chosen learning rates: ${JSON.stringify(pilot.pilot.lr)}`);
          console.log(`pilot: ${pilot.pilotPath}`);
          return;
        }
        const out = path.resolve((opts.demoOut as string | undefined) ?? path.join('runs', `demo-${stamp}`));
        const result = await runDemo({ outDir: out });
        console.log(
          result.summary.valid
            ? '\nvalid: the preference stage moved the model (DPO above SFT); see the report for the contrasts'
            : '\nNO CONCLUSION: DPO did not measurably move the model above SFT (summary.json valid: false)',
        );
        console.log(`\ndemo finished in ${(result.seconds / 60).toFixed(1)} min`);
        console.log(`run directory: ${result.outDir}`);
        console.log(`report:        ${result.reportPath}`);
        console.log(`summary:       ${result.summaryPath}`);
        return;
      }
      let input: Record<string, unknown> = {};
      if (opts.config) input = readConfigFile(opts.config as string);
      for (const [flag, key] of Object.entries(NUMBER_FLAGS)) if (explicit(flag)) input[key] = number(flag, String(opts[flag]));
      for (const key of STRING_FLAGS) if (explicit(key)) input[key] = opts[key];
      for (const key of BOOLEAN_FLAGS) if (explicit(key)) input[key] = opts[key];
      if (explicit('reportTo')) {
        const list = String(opts.reportTo)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        input.reportTo = list.length === 1 ? list[0] : list;
      }
      if (opts.printConfig) {
        if (input.resume !== undefined) throw new UsageError("--print-config prints a new run's configuration; a resumed run's is in RUN_DIR/config.json");
        try {
          console.log(JSON.stringify(resolvedRunConfig(input as TrainConfigInput), null, 2));
        } catch (err) {
          if (err instanceof ConfigError) throw new UsageError(err.message);
          throw err;
        }
        return;
      }
      const nproc = opts.nproc !== undefined ? number('nproc', String(opts.nproc)) : undefined;
      if (nproc !== undefined && (!Number.isInteger(nproc) || nproc < 1))
        throw new UsageError(`--nproc must be a whole number >= 1, got "${String(opts.nproc)}"`);
      if (opts.dryRun) {
        if (input.resume !== undefined) throw new UsageError('--dry-run plans a new run; drop --resume');
        try {
          const plan = await planTraining(input as TrainConfigInput, nproc !== undefined ? { ranks: nproc } : {});
          console.log(formatMemoryPlan(plan));
          if (!plan.fits) process.exitCode = 3;
        } catch (err) {
          if (err instanceof ConfigError || err instanceof HubDownloadError) throw new UsageError(err.message);
          throw err;
        }
        return;
      }
      if (nproc !== undefined) {
        const n = nproc;
        if (rankEnv()) throw new UsageError('--nproc starts its own ranks; under an external launcher (WORLD_SIZE is set) leave it out');
        const verdict = rankCountVerdict(n, undefined, opts.forceNproc === true);
        if (verdict.refusal) throw new UsageError(verdict.refusal);
        if (verdict.warning) process.stderr.write(`rdpo-native: warning: ${verdict.warning}\n`);
        if (n > 1) {
          const support = loadNative().dataParallelSupport(false);
          if (!support.compiled) throw new UsageError(`--nproc ${n}: this rdpo-native build has no data-parallel training: ${support.missing}`);
          if (input.out === undefined && input.resume === undefined)
            throw new UsageError(`--nproc ${n} needs --out (or --resume): every rank must name the same run directory`);
          process.exitCode = await launchRanks(n, withoutNproc(process.argv.slice(2)));
          return;
        }
      }
      const stops = handleStopSignals((line) => process.stderr.write(line + '\n'));
      try {
        const run: TrainRunOptions = { ...(opts.overwrite ? { overwrite: true } : {}), ...(opts.acceptDataChange ? { acceptDataChange: true } : {}) };
        const result = await train({ ...(input as unknown as TrainConfigInput & TrainRunOptions), ...run }, { signal: stops.signal, progress: true });
        if (rankEnv() && rankEnv()!.rank !== 0) return; // rank 0 reports for the run
        const report = await writeRunReport(result.runDir).catch((err: unknown) => {
          process.stderr.write(`warning: no report.md: ${(err as Error).message}\n`);
          return undefined;
        });
        if (report) process.stderr.write(`report: ${report.file}\n`);
        if (result.interrupted) {
          process.exitCode = stops.exitCode ?? 130;
          return;
        }
        console.log(`trained ${result.steps} steps; run directory: ${result.runDir}`);
        console.log(
          `${result.finalModelDir && existsSync(path.join(result.finalModelDir, 'adapter_config.json')) ? 'adapter' : 'model'}: ${result.finalModelDir}`,
        );
        if (result.lastMetrics) console.log(`last step: loss ${result.lastMetrics.loss.toFixed(4)}`);
        if (result.lastEval)
          console.log(
            `eval: loss ${result.lastEval.loss.toFixed(4)}${typeof result.lastEval['rewards/accuracies'] === 'number' ? `, reward accuracy ${(result.lastEval['rewards/accuracies'] as number).toFixed(3)}` : ''}`,
          );
      } catch (err) {
        if (err instanceof ConfigError || err instanceof HubDownloadError || err instanceof DataParallelSetupError || err instanceof DirLockedError)
          throw new UsageError(err.message);
        throw err;
      } finally {
        stops.dispose();
      }
    });
}

/** `rdpo-native plan …` is `rdpo-native train --dry-run …`: the same flags, the same plan. */
export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('print the memory a training run needs per rank and whether it fits (= train --dry-run; takes the train flags)')
    .helpOption(false)
    .allowUnknownOption()
    .argument('[trainFlags...]')
    .action(async (trainFlags: string[]) => {
      await program.parseAsync(['train', '--dry-run', ...trainFlags], { from: 'user' });
    });
}
