// `rdpo-native train`: with --model/--data (or --config) trains one run; with no arguments runs
// the built-in offline demo (SFT, then DPO and RDPO, then an exact-checker evaluation).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { runDemo, runDemoPilot } from '../../demo/run_demo.js';
import { readConfigFile, type TrainConfigInput } from '../../train/config.js';
import { resolvedRunConfig, train, type TrainRunOptions } from '../../train/trainer.js';
import { planTraining } from '../../train/plan.js';
import { handleStopSignals } from '../../jobs/interrupt.js';
import { rankEnv } from '../../train/data_parallel.js';
import { launchRanks, MAX_RANKS_PER_CORE, rankCountVerdict, withoutNproc } from '../../train/launcher.js';
import { loadNative } from '../../native/load.js';
import { formatMemoryPlan } from '../../train/memory_plan.js';
import { UsageError } from '../../errors.js';
import { writeRunReport } from '../../report/run_report.js';
import { EXIT } from '../exit_codes.js';
import { wholeNumberOption } from '../number_options.js';
import { addTrainConfigOptions, configInputFromFlags } from '../train_options.js';

/** The flags of `train` that are not configuration keys: how to run, not what to train. */
function addRunOptions(cmd: Command): Command {
  return cmd
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
    .option('--demo-out <dir>', 'where the built-in demo writes (default runs/demo-<time>)')
    .option(
      '--demo-pilot',
      "run the built-in demo's learning-rate pilot instead (docs/demo.md): every arm at every grid point, scored on the validation questions; writes pilot.json",
    );
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train with SFT, DPO, RDPO, ORPO, RORPO, SimPO (no arguments: the built-in offline demo)')
    .option('--config <file>', 'run.yaml or run.json; flags override it')
    .option('--print-config', "print the resolved configuration (config.json's `config`) as JSON and exit without training")
    .option(
      '--dry-run',
      'load and tokenize the data, print the memory each rank needs (weights, gradients, optimizer, reference, activations) and whether it fits; train nothing',
    );
  addRunOptions(addTrainConfigOptions(cmd)).action(trainAction);
}

async function trainAction(opts: Record<string, unknown>, cmd: Command): Promise<void> {
  const noTraining = !opts.config && !opts.model && !opts.data && !opts.resume && !opts.printConfig && !opts.preset && !opts.dryRun;
  if (noTraining) return runBuiltinDemo(opts);
  const input: Record<string, unknown> = { ...(opts.config ? readConfigFile(opts.config as string) : {}), ...configInputFromFlags(cmd) };
  if (opts.printConfig) {
    if (input.resume !== undefined) throw new UsageError("--print-config prints a new run's configuration; a resumed run's is in RUN_DIR/config.json");
    console.log(JSON.stringify(resolvedRunConfig(input as TrainConfigInput), null, 2));
    return;
  }
  const nproc = opts.nproc !== undefined ? wholeNumberOption(String(opts.nproc), '--nproc', 1) : undefined;
  if (opts.dryRun) return printPlan(input, nproc);
  if (nproc !== undefined && (await launchedRanks(input, nproc, opts.forceNproc === true))) return;
  await trainRun(input, opts);
}

async function runBuiltinDemo(opts: Record<string, unknown>): Promise<void> {
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
}

/** `--dry-run` / `plan`: the memory plan, exit 3 when it does not fit. */
async function printPlan(input: Record<string, unknown>, nproc: number | undefined): Promise<void> {
  if (input.resume !== undefined) throw new UsageError('--dry-run plans a new run; drop --resume');
  const plan = await planTraining(input as TrainConfigInput, nproc !== undefined ? { ranks: nproc } : {});
  console.log(formatMemoryPlan(plan));
  if (!plan.fits) process.exitCode = EXIT.doesNotFit;
}

/** `--nproc n`: checks the rank count; true when it started n > 1 ranks (which then train), false when this process trains alone. */
async function launchedRanks(input: Record<string, unknown>, n: number, force: boolean): Promise<boolean> {
  if (rankEnv()) throw new UsageError('--nproc starts its own ranks; under an external launcher (WORLD_SIZE is set) leave it out');
  const verdict = rankCountVerdict(n, undefined, force);
  if (verdict.refusal) throw new UsageError(verdict.refusal);
  if (verdict.warning) process.stderr.write(`rdpo-native: warning: ${verdict.warning}\n`);
  if (n === 1) return false;
  const support = loadNative().dataParallelSupport(false);
  if (!support.compiled) throw new UsageError(`--nproc ${n}: this rdpo-native build has no data-parallel training: ${support.missing}`);
  if (input.out === undefined && input.resume === undefined)
    throw new UsageError(`--nproc ${n} needs --out (or --resume): every rank must name the same run directory`);
  process.exitCode = await launchRanks(n, withoutNproc(process.argv.slice(2)));
  return true;
}

/** One training run in this process (a rank of a data-parallel run, or the whole run). */
async function trainRun(input: Record<string, unknown>, opts: Record<string, unknown>): Promise<void> {
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
      process.exitCode = stops.exitCode ?? EXIT.sigint;
      return;
    }
    printTrainResult(result);
  } finally {
    stops.dispose();
  }
}

function printTrainResult(result: Awaited<ReturnType<typeof train>>): void {
  console.log(`trained ${result.steps} steps; run directory: ${result.runDir}`);
  console.log(`${result.finalModelDir && existsSync(path.join(result.finalModelDir, 'adapter_config.json')) ? 'adapter' : 'model'}: ${result.finalModelDir}`);
  if (result.lastMetrics) console.log(`last step: loss ${result.lastMetrics.loss.toFixed(4)}`);
  if (result.lastEval) {
    const accuracy = result.lastEval['rewards/accuracies'];
    console.log(`eval: loss ${result.lastEval.loss.toFixed(4)}${typeof accuracy === 'number' ? `, reward accuracy ${accuracy.toFixed(3)}` : ''}`);
  }
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
