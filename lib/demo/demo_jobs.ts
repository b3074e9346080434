// The demo's units of work (docs/demo.md): one SFT run per seed, one DPO or RDPO run per
// (seed, size), each followed by its evaluation. A job reads a JSON spec and writes result.json into its
// directory; run_demo.ts runs them in child processes, one LibTorch thread each.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { evaluatePreferences } from '../eval/preference_eval.js';
import { loadModel } from '../inference/load_model.js';
import { TextGenerator } from '../inference/text_generator.js';
import { loadNative } from '../native/load.js';
import { train } from '../train/trainer.js';
import type { MetricsRow } from '../train/metrics.js';
import { writeFileAtomic } from '../util/atomic_write.js';
import { readJsonlRows } from '../util/jsonl_append.js';
import {
  DEMO_TASK,
  isCorrect,
  makeCueReversedPairs,
  makeEvalProblems,
  makePreferencePairs,
  makeSftDemonstrations,
  questionText,
  type ArithmeticProblem,
} from './arithmetic_task.js';
import { createTinyLlama } from './tiny_llama.js';

/** The knobs of one demo (defaults: DEMO_SCHEDULE). */
export interface DemoSchedule {
  seeds: number[];
  /** Preference-pair counts of the efficiency curve; the largest is the main comparison. */
  sizes: number[];
  sftSteps: number;
  sftLr: number;
  preferenceEpochs: number;
  preferenceLr: number;
  beta: number;
  gamma: number;
  /** Weight of the chosen answer's NLL added to both arms (RPO; 0 = plain DPO/RDPO). */
  sftWeight: number;
  batchSize: number;
  evalQuestions: number;
  maxNewTokens: number;
}

export const DEMO_SCHEDULE: DemoSchedule = {
  seeds: [1, 2, 3],
  sizes: [100, 300, 600],
  sftSteps: 600,
  sftLr: 3e-3,
  preferenceEpochs: 2,
  preferenceLr: 1e-5,
  beta: 0.1,
  gamma: 2,
  sftWeight: 0,
  batchSize: 16,
  evalQuestions: 200,
  maxNewTokens: 64,
};

export type DemoJob =
  | { kind: 'sft'; seed: number; dir: string; schedule: DemoSchedule }
  | { kind: 'dpo' | 'rdpo'; seed: number; pairs: number; dir: string; sftModel: string; pairsFile: string; schedule: DemoSchedule };

export interface DemoModelEval {
  /** Share of held-out questions answered correctly (sampled, exact checker). */
  accuracy: number;
  meanChars: number;
  meanTokens: number;
  /** Share of answers that carry a filler sentence. */
  fillerRate: number;
  /** Share of cue-reversed pairs where the correct, shorter answer gets the higher implicit reward; null for SFT. */
  cueReversedAccuracy: number | null;
  /** A few (question, answer) examples. */
  examples: Array<{ question: string; answer: number; response: string }>;
}

export interface DemoJobResult extends DemoModelEval {
  kind: DemoJob['kind'];
  seed: number;
  pairs: number | null;
  /** Pairs actually trained on (after any left out for not fitting). */
  trainedPairs: number | null;
  seconds: number;
  /** CPU seconds the job's process used (user + system). */
  cpuSeconds: number;
  modelDir: string;
  metrics: MetricsRow[];
}

/** Seeds of each data stream, derived from the demo seed so that streams never coincide. */
export const streamSeed = (seed: number, stream: 'base' | 'sft' | 'pairs' | 'eval' | 'reversed' | 'sample') =>
  seed * 1000 + { base: 1, sft: 2, pairs: 3, eval: 4, reversed: 5, sample: 6 }[stream];

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const FILLER_RE = /\.\s+\S/;

export async function evaluateDemoModel(modelDir: string, seed: number, schedule: DemoSchedule, referenceDir?: string): Promise<DemoModelEval> {
  const problems: ArithmeticProblem[] = makeEvalProblems(schedule.evalQuestions, DEMO_TASK.maxOperand, streamSeed(seed, 'eval'));
  // One load of the policy serves both measurements.
  const model = await loadModel(modelDir);
  let answers: string[];
  let tokens: number[];
  let cueReversedAccuracy: number | null = null;
  try {
    const generator = new TextGenerator(model);
    const prompts = problems.map((p) => ({ promptIds: generator.encode([{ role: 'user', content: questionText(p) }], 'chat') }));
    // The paper's sampling (top-p 0.95, temperature 1): a cap on tokens would hide verbosity, so the
    // budget is above the longest answer the task has.
    const out = await generator.generate(prompts, { maxNewTokens: schedule.maxNewTokens, temperature: 1, topP: 0.95, seed: streamSeed(seed, 'sample') });
    answers = out.map((o) => o.text.trim());
    tokens = out.map((o) => o.tokens);
    if (referenceDir !== undefined) {
      const reference = await loadModel(referenceDir);
      try {
        const { result } = await evaluatePreferences({
          policy: model,
          reference,
          pairs: makeCueReversedPairs(schedule.evalQuestions, streamSeed(seed, 'reversed')),
          beta: schedule.beta,
          batchSize: 64,
          tokenize: { format: 'chat', maxLength: 512, maxPromptLength: 384 },
        });
        cueReversedAccuracy = result.rewardAccuracy;
      } finally {
        reference.lm.dispose();
      }
    }
  } finally {
    model.lm.dispose();
  }
  const n = problems.length;
  return {
    accuracy: answers.filter((a, i) => isCorrect(problems[i]!, a)).length / n,
    meanChars: answers.reduce((s, a) => s + a.length, 0) / n,
    meanTokens: tokens.reduce((s, t) => s + t, 0) / n,
    fillerRate: answers.filter((a) => FILLER_RE.test(a)).length / n,
    cueReversedAccuracy,
    examples: problems.slice(0, 4).map((p, i) => ({ question: questionText(p), answer: p.answer, response: answers[i]! })),
  };
}

export async function runDemoJob(job: DemoJob, threads = 1): Promise<DemoJobResult> {
  const started = Date.now();
  loadNative().setNumThreads(threads);
  // A job that did not finish left a partial run behind; start it again from nothing.
  rmSync(path.join(job.dir, 'run'), { recursive: true, force: true });
  mkdirSync(job.dir, { recursive: true });
  const s = job.schedule;
  const common = { batchSize: s.batchSize, seed: job.seed, refCache: false, maxLength: 512, maxPromptLength: 384, threads, dtype: 'float32' as const, promptFormat: 'chat' as const };
  const quiet = { log: () => {} };
  let modelDir: string;
  let trainedPairs: number | null = null;
  if (job.kind === 'sft') {
    createTinyLlama(path.join(job.dir, 'base-model'), undefined, streamSeed(job.seed, 'base'));
    const data = path.join(job.dir, 'sft-demonstrations.jsonl');
    writeFileSync(data, jsonl(makeSftDemonstrations(s.sftSteps * s.batchSize, streamSeed(job.seed, 'sft'))));
    const r = await train(
      { ...common, model: path.join(job.dir, 'base-model'), data, loss: 'sft', lr: s.sftLr, maxSteps: s.sftSteps, warmupSteps: 10, schedule: 'cosine', out: path.join(job.dir, 'run') },
      quiet,
    );
    modelDir = r.finalModelDir!;
  } else {
    const r = await train(
      {
        ...common,
        model: job.sftModel,
        data: job.pairsFile,
        limit: job.pairs,
        loss: job.kind,
        beta: s.beta,
        sftWeight: s.sftWeight,
        ...(job.kind === 'rdpo' ? { gamma: s.gamma, rationaleNorm: 'mean' as const } : {}),
        lr: s.preferenceLr,
        epochs: s.preferenceEpochs,
        warmupSteps: 5,
        schedule: 'cosine',
        out: path.join(job.dir, 'run'),
      },
      quiet,
    );
    modelDir = r.finalModelDir!;
    const config = JSON.parse(readFileSync(path.join(r.runDir, 'config.json'), 'utf8')) as { data: { trainPairs: number } };
    trainedPairs = config.data.trainPairs;
  }
  const evaluation = await evaluateDemoModel(modelDir, job.seed, s, job.kind === 'sft' ? undefined : job.sftModel);
  const result: DemoJobResult = {
    kind: job.kind,
    seed: job.seed,
    pairs: job.kind === 'sft' ? null : job.pairs,
    trainedPairs,
    ...evaluation,
    seconds: (Date.now() - started) / 1000,
    cpuSeconds: (() => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    })(),
    modelDir,
    metrics: readJsonlRows<MetricsRow>(path.join(job.dir, 'run', 'metrics.jsonl')),
  };
  writeFileAtomic(path.join(job.dir, 'result.json'), JSON.stringify(result) + '\n');
  return result;
}

/** The preference pairs of a seed (the largest size; smaller sizes are nested seeded subsets). */
export function writeSeedPairs(file: string, seed: number, count: number): void {
  if (existsSync(file)) return;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, jsonl(makePreferencePairs(count, streamSeed(seed, 'pairs'))));
}
