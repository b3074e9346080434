// The built-in demo behind `npx rdpo-native train` with no arguments, fully offline (docs/demo.md):
// per seed, a small Llama from scratch is fine-tuned on careless demonstrations (SFT), then trained
// with DPO and with RDPO from that model on the same nested subsets of preference pairs whose length
// cue is spurious; every model answers held-out questions (sampled, exact checker) and scores
// cue-reversed pairs. summary.json and report.md give means with 95% intervals over seeds.
//
// Jobs run in child processes (demo_worker.ts), as many at once as there are cores, one LibTorch
// thread each; a finished job leaves result.json, so a rerun with the same --demo-out continues.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/atomic_write.js';
import { DEMO_TASK, rationaleText, makeProblem } from './arithmetic_task.js';
import { DEMO_SCHEDULE, writeSeedPairs, type DemoJob, type DemoJobResult, type DemoSchedule } from './demo_jobs.js';
import { writeDemoReport } from './demo_report.js';
import { summarizeDemo, type DemoSummary } from './demo_summary.js';
import { DEMO_SHAPE } from './tiny_llama.js';
import { SeededRandom } from '../util/random.js';

export interface DemoOptions {
  outDir: string;
  schedule?: Partial<DemoSchedule>;
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
  return job.kind === 'sft' ? `seed ${job.seed} SFT` : `seed ${job.seed} ${job.kind.toUpperCase()} on ${job.pairs} pairs`;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const log = opts.log ?? ((m: string) => process.stderr.write(`[demo] ${m}\n`));
  const out = path.resolve(opts.outDir);
  mkdirSync(out, { recursive: true });
  const schedule: DemoSchedule = { ...DEMO_SCHEDULE, ...opts.schedule };
  const sizes = [...schedule.sizes].sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1]!;
  const parallel = Math.max(1, opts.parallel ?? Math.min(os.availableParallelism(), 4));
  writeFileAtomic(path.join(out, 'schedule.json'), JSON.stringify(schedule, null, 2) + '\n');
  log(
    `${schedule.seeds.length} seeds × (SFT + DPO and RDPO on ${sizes.join('/')} pairs), ${DEMO_SHAPE.layers}-layer Llama (hidden ${DEMO_SHAPE.hiddenSize}) ` +
      `from scratch; ${parallel} job(s) at a time. Design: docs/demo.md. Output: ${out}`,
  );

  // The dependency graph: each seed's preference runs start from its SFT model.
  const sftJobs = new Map<number, DemoJob>();
  const prefJobs: DemoJob[] = [];
  for (const seed of schedule.seeds) {
    const seedDir = path.join(out, `seed-${seed}`);
    sftJobs.set(seed, { kind: 'sft', seed, dir: path.join(seedDir, 'sft'), schedule });
    const pairsFile = path.join(seedDir, 'pairs.jsonl');
    writeSeedPairs(pairsFile, seed, largest);
    // Largest first: the long jobs start early, the short ones fill in.
    for (const pairs of [...sizes].reverse()) {
      for (const kind of ['rdpo', 'dpo'] as const) {
        prefJobs.push({ kind, seed, pairs, dir: path.join(seedDir, `${kind}-${pairs}`), sftModel: path.join(seedDir, 'sft', 'run', 'final'), pairsFile, schedule });
      }
    }
  }
  const results: DemoJobResult[] = [];
  const done = new Set<number>();
  const queue: DemoJob[] = [...sftJobs.values(), ...prefJobs];
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
          const cue = r.cueReversedAccuracy === null ? '' : `, cue-reversed ${(100 * r.cueReversedAccuracy).toFixed(0)}%`;
          log(`${results.length}/${total} ${jobName(job)}: accuracy ${(100 * r.accuracy).toFixed(1)}%, ${r.meanChars.toFixed(1)} chars${cue} (${r.seconds.toFixed(0)} s)`);
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

  const summary = summarizeDemo(results, schedule);
  const summaryPath = path.join(out, 'summary.json');
  writeFileAtomic(summaryPath, JSON.stringify(summary, null, 2) + '\n');
  const seconds = (Date.now() - started) / 1000;
  const example = makeProblem(new SeededRandom(1), DEMO_TASK.maxOperand);
  const reportPath = await writeDemoReport(out, { summary, results, schedule, seconds, rationaleExample: rationaleText(example, example.answer + 1) });
  return { outDir: out, reportPath, summaryPath, seconds, summary, results };
}
