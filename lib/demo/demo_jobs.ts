// The demo's units of work (docs/demo.md): one SFT run per replicate, one preference run per
// (replicate, arm, size), each followed by its evaluation on a fixed question split. A job reads a
// JSON spec and writes result.json into its directory; run_demo.ts runs them in child processes, one
// LibTorch thread each.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { evaluatePreferences } from '../eval/preference_eval.js';
import { loadModel, type LoadedModel } from '../inference/load_model.js';
import { TextGenerator } from '../inference/text_generator.js';
import { packSequences } from '../model/packing.js';
import { loadNative } from '../native/load.js';
import { withNullRationales } from '../rationales/null_rationale.js';
import { train } from '../train/trainer.js';
import type { MetricsRow } from '../train/metrics.js';
import { writeFileAtomic } from '../util/atomic_write.js';
import { readJsonlRows } from '../util/jsonl_append.js';
import {
  isCorrect,
  makeCueReversedPairs,
  makePreferencePairs,
  makeSftDemonstrations,
  questionText,
  splitQuestions,
  type ArithmeticProblem,
} from './arithmetic_task.js';
import { createTinyLlama } from './tiny_llama.js';

/** The arms of docs/demo.md: the loss each trains, on which rationales. */
export const ARMS = ['dpo', 'rdpo', 'rdpo_null', 'rpo'] as const;
export type DemoArm = (typeof ARMS)[number];

/** The knobs of one demo (defaults: DEMO_SCHEDULE). */
export interface DemoSchedule {
  /** One replicate per seed: base weights, SFT data, pairs, subsets and order all follow it. */
  seeds: number[];
  /** Preference-pair counts; the largest is the main comparison. */
  sizes: number[];
  /** Arms trained at every size, and the ones at the largest size only. */
  arms: DemoArm[];
  armsAtLargest: DemoArm[];
  sftSteps: number;
  sftLr: number;
  preferenceEpochs: number;
  /** Peak learning rate per arm: the pilot's choice from one shared grid (docs/demo/pilot.json). */
  lr: Record<DemoArm, number>;
  beta: number;
  /** RDPO's γ in the released form −log σ(γ·Σ log π(r|…)). */
  gamma: number;
  /** RPO's weight on the chosen answer's token-mean NLL. */
  rpoWeight: number;
  batchSize: number;
  maxNewTokens: number;
  /** Cue-reversed pairs per test question. */
  reversedPerQuestion: number;
}

export const DEMO_SCHEDULE: DemoSchedule = {
  seeds: [1, 2, 3, 4, 5, 6],
  sizes: [40, 240],
  arms: ['dpo', 'rdpo', 'rdpo_null'],
  armsAtLargest: ['rpo'],
  sftSteps: 600,
  sftLr: 3e-3,
  preferenceEpochs: 2,
  // Frozen from the pilot (docs/demo/pilot.json; docs/demo.md "Learning rate").
  lr: { dpo: 1e-5, rdpo: 1e-4, rdpo_null: 3e-5, rpo: 1e-5 },
  beta: 0.1,
  gamma: 0.1,
  rpoWeight: 1,
  batchSize: 16,
  maxNewTokens: 64,
  reversedPerQuestion: 2,
};

/** The shared grid the pilot chooses each arm's learning rate from, and the pilot's own replicates. */
export const LR_GRID = [3e-6, 1e-5, 3e-5, 1e-4];
export const PILOT_SEEDS = [101, 102];

/** Which split a job is scored on: test for the demo, validation for the pilot (pCorrect only). */
export type EvalSplit = 'test' | 'validation';

export type DemoJob =
  | { kind: 'sft'; seed: number; dir: string; schedule: DemoSchedule; split: EvalSplit }
  | {
      kind: 'pref';
      arm: DemoArm;
      seed: number;
      pairs: number;
      lr: number;
      dir: string;
      sftModel: string;
      pairsFile: string;
      schedule: DemoSchedule;
      split: EvalSplit;
    };

/** Per question of the split, in split order (the crossed design's units). */
export interface DemoModelEval {
  /** π(correct answer | question): the product of the answer's token probabilities up to its full stop. */
  pCorrect: number[];
  /** The rest are null for a pilot job (validation split: pCorrect only). */
  greedyCorrect: number[] | null;
  greedyChars: number[] | null;
  /** 1 where the greedy answer carries a filler sentence. */
  filler: number[] | null;
  /** Per test question: the share of its cue-reversed pairs whose implicit reward prefers the correct, shorter answer; null for SFT. */
  reversedCorrect: number[] | null;
  examples: Array<{ question: string; answer: number; response: string }>;
}

export interface DemoJobResult extends DemoModelEval {
  kind: DemoJob['kind'];
  arm: DemoArm | 'sft';
  seed: number;
  pairs: number | null;
  lr: number;
  split: EvalSplit;
  /** Pairs actually trained on (after the loader's de-duplication). */
  trainedPairs: number | null;
  seconds: number;
  /** CPU seconds the job's process used (user + system). */
  cpuSeconds: number;
  modelDir: string;
  metrics: MetricsRow[];
}

/** Seeds of each data stream, derived from the replicate's seed so that streams never coincide. */
export const streamSeed = (seed: number, stream: 'base' | 'sft' | 'pairs' | 'reversed') => seed * 1000 + { base: 1, sft: 2, pairs: 3, reversed: 5 }[stream];

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const FILLER_RE = /\.\s+\S/;
const chat = (p: ArithmeticProblem) => [{ role: 'user' as const, content: questionText(p) }];

/** pCorrect per question: one packed scoring pass of "N." after each question's chat prompt. */
async function correctAnswerProbabilities(model: LoadedModel, generator: TextGenerator, problems: readonly ArithmeticProblem[]): Promise<number[]> {
  const groups = problems.map((p) => ({
    prompt: generator.encode(chat(p), 'chat'),
    completions: [model.tokenizer.encode(`${p.answer}.`, { addSpecialTokens: false })],
  }));
  const { sum } = await model.lm.sequenceLogprobs(packSequences(groups));
  return Array.from(sum, (s) => Math.exp(s));
}

export async function evaluateDemoModel(modelDir: string, job: DemoJob): Promise<DemoModelEval> {
  const split = splitQuestions();
  const problems = job.split === 'test' ? split.test : split.validation;
  const model = await loadModel(modelDir);
  try {
    const generator = new TextGenerator(model);
    const pCorrect = await correctAnswerProbabilities(model, generator, problems);
    if (job.split === 'validation') return { pCorrect, greedyCorrect: null, greedyChars: null, filler: null, reversedCorrect: null, examples: [] };
    const prompts = problems.map((p) => ({ promptIds: generator.encode(chat(p), 'chat') }));
    // Greedy: deterministic. The budget is above the longest answer the task has, so it hides no verbosity.
    const answers = (await generator.generate(prompts, { maxNewTokens: job.schedule.maxNewTokens, temperature: 0 })).map((o) => o.text.trim());
    let reversedCorrect: number[] | null = null;
    if (job.kind === 'pref') {
      const reference = await loadModel(job.sftModel);
      try {
        const per = job.schedule.reversedPerQuestion;
        const { scores } = await evaluatePreferences({
          policy: model,
          reference,
          pairs: makeCueReversedPairs(problems, per, streamSeed(0, 'reversed')),
          beta: job.schedule.beta,
          batchSize: 64,
          tokenize: { format: 'chat', maxLength: 512, maxPromptLength: 384 },
        });
        if (scores.length !== problems.length * per) throw new Error(`demo: ${scores.length} cue-reversed pairs scored, expected ${problems.length * per}`);
        reversedCorrect = problems.map((_, q) => scores.slice(q * per, (q + 1) * per).filter((s) => s.chosenReward! > s.rejectedReward!).length / per);
      } finally {
        reference.lm.dispose();
      }
    }
    return {
      pCorrect,
      greedyCorrect: answers.map((a, i) => (isCorrect(problems[i]!, a) ? 1 : 0)),
      greedyChars: answers.map((a) => a.length),
      filler: answers.map((a) => (FILLER_RE.test(a) ? 1 : 0)),
      reversedCorrect,
      examples: problems.slice(0, 4).map((p, i) => ({ question: questionText(p), answer: p.answer, response: answers[i]! })),
    };
  } finally {
    model.lm.dispose();
  }
}

async function trainSft(job: Extract<DemoJob, { kind: 'sft' }>, common: object): Promise<string> {
  const s = job.schedule;
  createTinyLlama(path.join(job.dir, 'base-model'), undefined, streamSeed(job.seed, 'base'));
  const data = path.join(job.dir, 'sft-demonstrations.jsonl');
  writeFileSync(data, jsonl(makeSftDemonstrations(s.sftSteps * s.batchSize, streamSeed(job.seed, 'sft'))));
  const r = await train(
    {
      ...common,
      model: path.join(job.dir, 'base-model'),
      data,
      loss: 'sft',
      lr: s.sftLr,
      maxSteps: s.sftSteps,
      warmupSteps: 10,
      schedule: 'cosine',
      out: path.join(job.dir, 'run'),
    },
    { log: () => {} },
  );
  return r.finalModelDir!;
}

async function trainArm(job: Extract<DemoJob, { kind: 'pref' }>, common: object): Promise<{ modelDir: string; trainedPairs: number }> {
  const s = job.schedule;
  const loss = job.arm === 'rdpo' || job.arm === 'rdpo_null' ? 'rdpo' : 'dpo';
  const r = await train(
    {
      ...common,
      model: job.sftModel,
      data: job.pairsFile,
      limit: job.pairs,
      loss,
      beta: s.beta,
      sftWeight: job.arm === 'rpo' ? s.rpoWeight : 0,
      ...(loss === 'rdpo' ? { gamma: s.gamma, rationaleForm: 'logsigmoid' as const, rationaleNorm: 'sum' as const } : {}),
      lr: job.lr,
      epochs: s.preferenceEpochs,
      warmupSteps: 5,
      schedule: 'cosine',
      out: path.join(job.dir, 'run'),
    },
    { log: () => {} },
  );
  const config = JSON.parse(readFileSync(path.join(r.runDir, 'config.json'), 'utf8')) as { data: { trainPairs: number } };
  return { modelDir: r.finalModelDir!, trainedPairs: config.data.trainPairs };
}

export async function runDemoJob(job: DemoJob, threads = 1): Promise<DemoJobResult> {
  const started = Date.now();
  loadNative().setNumThreads(threads);
  // A job that did not finish left a partial run behind; start it again from nothing.
  rmSync(path.join(job.dir, 'run'), { recursive: true, force: true });
  mkdirSync(job.dir, { recursive: true });
  const s = job.schedule;
  const common = {
    batchSize: s.batchSize,
    seed: job.seed,
    refCache: false,
    maxLength: 512,
    maxPromptLength: 384,
    threads,
    dtype: 'float32' as const,
    promptFormat: 'chat' as const,
  };
  const trained = job.kind === 'sft' ? { modelDir: await trainSft(job, common), trainedPairs: null } : await trainArm(job, common);
  const evaluation = await evaluateDemoModel(trained.modelDir, job);
  const cpu = process.cpuUsage();
  const result: DemoJobResult = {
    kind: job.kind,
    arm: job.kind === 'sft' ? 'sft' : job.arm,
    seed: job.seed,
    pairs: job.kind === 'sft' ? null : job.pairs,
    lr: job.kind === 'sft' ? s.sftLr : job.lr,
    split: job.split,
    trainedPairs: trained.trainedPairs,
    ...evaluation,
    seconds: (Date.now() - started) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    modelDir: trained.modelDir,
    metrics: readJsonlRows<MetricsRow>(path.join(job.dir, 'run', 'metrics.jsonl')),
  };
  writeFileAtomic(path.join(job.dir, 'result.json'), JSON.stringify(result) + '\n');
  return result;
}

/**
 * A replicate's preference pairs (the largest size; smaller sizes are nested seeded subsets), and the
 * same pairs with null rationales of the same token length (the byte-level tokenizer: a byte a token).
 */
export function writeSeedPairs(dir: string, seed: number, count: number): { pairsFile: string; nullPairsFile: string } {
  const pairsFile = path.join(dir, 'pairs.jsonl');
  const nullPairsFile = path.join(dir, 'pairs-null-rationale.jsonl');
  if (!existsSync(pairsFile) || !existsSync(nullPairsFile)) {
    mkdirSync(dir, { recursive: true });
    const pairs = makePreferencePairs(count, streamSeed(seed, 'pairs'), splitQuestions().train);
    writeFileAtomic(nullPairsFile, jsonl(withNullRationales(pairs, (t) => Buffer.byteLength(t, 'utf8'))));
    writeFileAtomic(pairsFile, jsonl(pairs));
  }
  return { pairsFile, nullPairsFile };
}
