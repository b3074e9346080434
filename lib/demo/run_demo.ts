// The built-in demo behind `npx rdpo-native train` with no arguments, fully offline (docs/demo.md):
// per replicate, a small Llama from scratch is fine-tuned on careless demonstrations (SFT), then trained
// with DPO, RDPO, RDPO on null rationales and RPO from that model on the same nested subsets of
// preference pairs whose length cue is spurious; every model is scored on the same held-out test
// questions. summary.json and report.md give crossed-bootstrap intervals over replicates × questions.
// `pilot: true` runs the learning-rate pilot instead (validation questions, the shared grid) and
// writes pilot.json with each arm's choice.
//
// Jobs run in child processes (demo_worker.ts), as many at once as there are cores, one LibTorch
// thread each; a finished job leaves result.json, so a rerun with the same --demo-out continues.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/atomic_write.js';
import { rationaleText, splitQuestions } from './arithmetic_task.js';
import {
  DEMO_SCHEDULE,
  LR_GRID,
  PILOT_SEEDS,
  writeSeedPairs,
  type DemoArm,
  type DemoJob,
  type DemoJobResult,
  type DemoSchedule,
  type EvalSplit,
} from './demo_jobs.js';
import { writeDemoReport } from './demo_report.js';
import { choosePilotLearningRates, type PilotChoice } from './demo_pilot.js';
import { summarizeDemo, type DemoSummary } from './demo_summary.js';
import { DEMO_SHAPE } from './tiny_llama.js';

export interface DemoOptions {
  outDir: string;
  schedule?: Partial<DemoSchedule>;
  /** Run the learning-rate pilot (validation questions, every arm at every grid point) instead. */
  pilot?: boolean;
  /** Jobs at once (default: the number of cores). */
  parallel?: number;
  log?: (message: string) => void;
}

export interface DemoResult {
  outDir: string;
  reportPath: string;
  summaryPath: string;
  seconds: number;
  summary: DemoSummary;
  results: DemoJobResult[];
}

export interface PilotResult {
  outDir: string;
  pilotPath: string;
  seconds: number;
  pilot: PilotChoice;
}

const here = fileURLToPath(import.meta.url);
const workerPath = path.join(path.dirname(here), `demo_worker${path.extname(here)}`);

function runInChild(job: DemoJob, log: (m: string) => void): Promise<DemoJobResult> {
  const resultFile = path.join(job.dir, 'result.json');
  if (existsSync(resultFile)) return Promise.resolve(JSON.parse(readFileSync(resultFile, 'utf8')) as DemoJobResult);
  mkdirSync(job.dir, { recursive: true });
  const jobFile = path.join(job.dir, 'job.json');
  writeFileSync(jobFile, JSON.stringify(job));
  const logFile = path.join(job.dir, 'job.log');
  const fd = openSync(logFile, 'w');
  // Running from TypeScript sources (tests, tsx) the worker needs the same loader.
  const execArgv = here.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, workerPath, jobFile], { stdio: ['ignore', fd, fd], env: { ...process.env, RDPO_DEMO_THREADS: '1' } });
    child.on('error', (err) => {
      closeSync(fd);
      reject(err);
    });
    child.on('close', (code, signal) => {
      closeSync(fd);
      if (code === 0 && existsSync(resultFile)) {
        resolve(JSON.parse(readFileSync(resultFile, 'utf8')) as DemoJobResult);
        return;
      }
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-12).join('\n') : '';
      log(`job ${path.basename(job.dir)} (seed ${job.seed}) failed (${signal ?? `exit ${code}`}); its log is ${logFile}`);
      reject(new Error(`demo job ${job.dir} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}

function jobName(job: DemoJob): string {
  return job.kind === 'sft' ? `seed ${job.seed} SFT` : `seed ${job.seed} ${job.arm.toUpperCase()} on ${job.pairs} pairs at lr ${job.lr}`;
}

/** Each replicate's SFT job and its preference jobs (what `arms` asks for at each size and lr). */
function buildJobs(
  out: string,
  schedule: DemoSchedule,
  seeds: readonly number[],
  split: EvalSplit,
  runs: (pairs: number) => Array<{ arm: DemoArm; lr: number }>,
): { sft: DemoJob[]; pref: DemoJob[] } {
  const sizes = [...schedule.sizes].sort((a, b) => a - b);
  const sft: DemoJob[] = [];
  const pref: DemoJob[] = [];
  for (const seed of seeds) {
    const seedDir = path.join(out, `seed-${seed}`);
    sft.push({ kind: 'sft', seed, dir: path.join(seedDir, 'sft'), schedule, split });
    const { pairsFile, nullPairsFile } = writeSeedPairs(seedDir, seed, sizes[sizes.length - 1]!);
    // Largest first: the long jobs start early, the short ones fill in.
    for (const pairs of [...sizes].reverse()) {
      for (const { arm, lr } of runs(pairs)) {
        const name = split === 'test' ? `${arm}-${pairs}` : `${arm}-${pairs}-lr${lr}`;
        pref.push({
          kind: 'pref',
          arm,
          seed,
          pairs,
          lr,
          dir: path.join(seedDir, name),
          sftModel: path.join(seedDir, 'sft', 'run', 'final'),
          pairsFile: arm === 'rdpo_null' ? nullPairsFile : pairsFile,
          schedule,
          split,
        });
      }
    }
  }
  return { sft, pref };
}

/** Runs the jobs, as many at once as `parallel`, each replicate's preference jobs after its SFT. */
async function runJobs(jobs: { sft: DemoJob[]; pref: DemoJob[] }, parallel: number, log: (m: string) => void): Promise<DemoJobResult[]> {
  const results: DemoJobResult[] = [];
  const done = new Set<number>();
  const queue: DemoJob[] = [...jobs.sft, ...jobs.pref];
  const running = new Set<Promise<void>>();
  let failure: Error | undefined;
  const total = queue.length;
  const ready = (job: DemoJob) => job.kind === 'sft' || done.has(job.seed);
  while ((queue.length > 0 || running.size > 0) && !failure) {
    while (running.size < parallel && !failure) {
      const i = queue.findIndex(ready);
      if (i < 0) break;
      const job = queue.splice(i, 1)[0]!;
      const p: Promise<void> = runInChild(job, log)
        .then((r) => {
          results.push(r);
          if (job.kind === 'sft') done.add(job.seed);
          const p = (100 * r.pCorrect.reduce((a, b) => a + b, 0)) / r.pCorrect.length;
          const acc = r.greedyCorrect ? `, greedy accuracy ${((100 * r.greedyCorrect.reduce((a, b) => a + b, 0)) / r.greedyCorrect.length).toFixed(1)}%` : '';
          log(`${results.length}/${total} ${jobName(job)}: P(correct) ${p.toFixed(1)}%${acc} (${r.seconds.toFixed(0)} s)`);
        })
        .catch((err: Error) => {
          failure ??= err;
        })
        .finally(() => running.delete(p));
      running.add(p);
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  await Promise.allSettled(running);
  if (failure) throw failure;
  return results;
}

const defaultParallel = (n?: number) => Math.max(1, n ?? Math.min(os.availableParallelism(), 4));

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const log = opts.log ?? ((m: string) => process.stderr.write(`[demo] ${m}\n`));
  const out = path.resolve(opts.outDir);
  mkdirSync(out, { recursive: true });
  const schedule: DemoSchedule = { ...DEMO_SCHEDULE, ...opts.schedule };
  const sizes = [...schedule.sizes].sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1]!;
  const parallel = defaultParallel(opts.parallel);
  writeFileAtomic(path.join(out, 'schedule.json'), JSON.stringify(schedule, null, 2) + '\n');
  log(
    `${schedule.seeds.length} replicates × (SFT + ${schedule.arms.join(', ')} on ${sizes.join('/')} pairs + ${schedule.armsAtLargest.join(', ')} on ${largest}), ` +
      `${DEMO_SHAPE.layers}-layer Llama (hidden ${DEMO_SHAPE.hiddenSize}) from scratch; ${parallel} job(s) at a time. Design: docs/demo.md. Output: ${out}`,
  );
  const jobs = buildJobs(out, schedule, schedule.seeds, 'test', (pairs) =>
    [...schedule.arms, ...(pairs === largest ? schedule.armsAtLargest : [])].map((arm) => ({ arm, lr: schedule.lr[arm] })),
  );
  const results = await runJobs(jobs, parallel, log);
  const summary = summarizeDemo(results, schedule);
  const summaryPath = path.join(out, 'summary.json');
  writeFileAtomic(summaryPath, JSON.stringify(summary, null, 2) + '\n');
  const seconds = (Date.now() - started) / 1000;
  const example = splitQuestions().train[0]!;
  const reportPath = await writeDemoReport(out, { summary, results, schedule, seconds, rationaleExample: rationaleText(example, example.answer + 1) });
  return { outDir: out, reportPath, summaryPath, seconds, summary, results };
}

/** The learning-rate pilot of docs/demo.md: its own replicates, the validation questions, every arm at every grid point at the largest size. */
export async function runDemoPilot(opts: DemoOptions): Promise<PilotResult> {
  const started = Date.now();
  const log = opts.log ?? ((m: string) => process.stderr.write(`[demo pilot] ${m}\n`));
  const out = path.resolve(opts.outDir);
  mkdirSync(out, { recursive: true });
  const base: DemoSchedule = { ...DEMO_SCHEDULE, ...opts.schedule };
  const largest = Math.max(...base.sizes);
  const schedule: DemoSchedule = { ...base, sizes: [largest] };
  const seeds = opts.schedule?.seeds ?? PILOT_SEEDS;
  const grid = LR_GRID;
  const arms = [...schedule.arms, ...schedule.armsAtLargest];
  log(`pilot: ${seeds.length} replicates × ${arms.length} arms × lr ${grid.join(', ')} at ${largest} pairs, scored on the validation questions`);
  const jobs = buildJobs(out, schedule, seeds, 'validation', () => arms.flatMap((arm) => grid.map((lr) => ({ arm, lr }))));
  const results = await runJobs(jobs, defaultParallel(opts.parallel), log);
  const pilot = choosePilotLearningRates(results, arms, grid);
  const pilotPath = path.join(out, 'pilot.json');
  writeFileAtomic(pilotPath, JSON.stringify(pilot, null, 2) + '\n');
  return { outDir: out, pilotPath, seconds: (Date.now() - started) / 1000, pilot };
}
