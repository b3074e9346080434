// `rdpo-native compare`: the paper's data-efficiency sweep in one command. SFT on the chosen
// responses gives π_ref; DPO and RDPO are trained from it at each training size on nested subsets
// (one seed: the 1K pairs are the first 1K of the 3K); each is scored on the held-out pairs
// (reward accuracy), generates on the evaluation prompts (lengths), and is judged against SFT,
// RDPO also against DPO at the same size. Every step's output lives in its own place under OUT
// and is skipped when already there, so a rerun resumes where the last one stopped.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { PreferencePair } from '../data/schema.js';
import { loadPreferences } from '../data/load.js';
import { selectSubset, splitEval } from '../data/subset.js';
import type { Interruption } from '../jobs/runner.js';
import type { TrainConfigInput } from '../train/config.js';
import type { TrainResult } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic_write.js';
import { generationStats, type GenerationStats } from './generate.js';
import type { SamplingSettings } from '../inference/text_generator.js';
import type { PairwiseJudge } from './judge.js';
import type { ModelLoadOptions } from '../inference/load_model.js';
import type { PreferenceEvalResult } from './preference_eval.js';
import { loadPromptSet, pairPrompt, pairPromptItem, type PromptItem } from './prompts.js';
import { runComparison, runGeneration, runPreferenceEval } from './run_eval.js';
import { writeSweepReport } from '../report/sweep_report.js';
import type { SweepMethod, SweepResults, SweepRow } from './sweep_results.js';

export type { SweepMethod, SweepResults, SweepRow } from './sweep_results.js';

export type TrainFn = (config: TrainConfigInput & { resume?: string }, options?: { signal?: AbortSignal }) => Promise<TrainResult>;

export interface CompareOptions {
  /** The base model; SFT starts from it. */
  model: string;
  data: string;
  sizes: number[];
  evalSize: number;
  /** Evaluation prompts; default: the prompts of the held-out pairs. */
  prompts?: string;
  /** At most this many evaluation prompts (seeded). */
  promptLimit?: number;
  judge: PairwiseJudge;
  repeats: number;
  out: string;
  seed: number;
  methods?: SweepMethod[];
  /** Settings shared by every training run (lr, batchSize, maxSteps, dtype, …). */
  train?: Partial<TrainConfigInput>;
  /** Settings for the SFT run only, on top of `train`. */
  sftTrain?: Partial<TrainConfigInput>;
  /** β of the implicit reward in the evaluation (default: `train.beta` or 0.1). */
  beta?: number;
  sampling: SamplingSettings;
  load?: ModelLoadOptions;
  trainer: TrainFn;
  interruption?: Interruption;
  log?: (line: string) => void;
}

export interface RunRecord {
  name: string;
  method: 'sft' | SweepMethod;
  size: number;
  modelDir: string;
  steps: number;
  metrics: Record<string, unknown>;
}

function writeJsonl(file: string, pairs: readonly PreferencePair[]): void {
  const lines = pairs.map((p) =>
    JSON.stringify({
      id: p.id,
      prompt: p.prompt,
      chosen: p.chosen,
      rejected: p.rejected,
      ...(p.rationale !== undefined ? { rationale: p.rationale } : {}),
      ...(p.system !== undefined ? { system: p.system } : {}),
    }),
  );
  writeFileAtomic(file, lines.join('\n') + '\n');
}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** The settings that define a sweep: a rerun with other values would mix results, so it is refused. */
function sweepIdentity(o: CompareOptions) {
  return {
    model: resolve(o.model),
    data: resolve(o.data),
    evalSize: o.evalSize,
    seed: o.seed,
    prompts: o.prompts ? resolve(o.prompts) : null,
    promptLimit: o.promptLimit ?? null,
  };
}

export async function runCompare(o: CompareOptions): Promise<SweepResults> {
  const log = o.log ?? ((line) => process.stderr.write(line + '\n'));
  const methods = o.methods ?? ['dpo', 'rdpo'];
  const sizes = [...new Set(o.sizes)].sort((a, b) => a - b);
  if (sizes.length === 0) throw new UsageError('--sizes needs at least one training size');
  mkdirSync(o.out, { recursive: true });
  claimOutDir(o);

  // 1. The split: held-out pairs first, then nested training subsets of what is left.
  const { split, largest, dataDir } = await writeSplit(o, sizes, methods);
  const prompts: PromptItem[] = o.prompts
    ? await loadPromptSet(o.prompts, { ...(o.promptLimit !== undefined ? { limit: o.promptLimit, seed: o.seed } : {}) })
    : dedupePrompts(split.eval, o.promptLimit, o.seed);

  // 2. Training runs, each skipped when its record is there.
  const { sft, runs } = await trainAll(o, log, sizes, methods, largest, dataDir);

  // 3. Evaluation of every model: reward accuracy on the held-out pairs, and generations.
  const beta = o.beta ?? (typeof o.train?.beta === 'number' ? o.train.beta : 0.1);
  const c: EvalContext = { o, log, evalPairs: split.eval, prompts, beta, sft };
  const sftPreference = await scorePreference(c, sft);
  const sftGeneration = await generate(c, sft);
  const rows: SweepRow[] = [];
  for (const run of runs) {
    const pref = await scorePreference(c, run);
    const gen = await generate(c, run);
    log(`${run.name}: judging against sft`);
    rows.push({ method: run.method as SweepMethod, size: run.size, steps: run.steps, preference: pref, generation: gen, vsSft: await judge(c, run, sft) });
  }
  const rdpoVsDpo = await judgeRdpoAgainstDpo(c, runs, sizes, methods);

  const results: SweepResults = {
    model: o.model,
    data: o.data,
    sizes,
    evalPairs: split.eval.length,
    trainPool: split.train.length,
    prompts: { source: o.prompts ?? `the ${split.eval.length} held-out pairs`, count: prompts.length },
    judge: o.judge.name,
    judgeKind: o.judge.kind,
    repeats: o.judge.kind === 'exact' ? 1 : o.repeats,
    seed: o.seed,
    beta,
    sampling: o.sampling,
    train: o.train ?? {},
    sft: { steps: sft.steps, preference: sftPreference, generation: sftGeneration, trainSize: largest },
    rows,
    rdpoVsDpo,
  };
  writeFileAtomic(join(o.out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  await writeSweepReport(results, o.out);
  return results;
}

/** Writes OUT/sweep.json, refusing an OUT that holds a sweep with other settings. */
function claimOutDir(o: CompareOptions): void {
  const identityFile = join(o.out, 'sweep.json');
  const identity = sweepIdentity(o);
  const previous = readJson<typeof identity>(identityFile);
  if (previous && JSON.stringify(previous) !== JSON.stringify(identity)) {
    throw new UsageError(
      `${o.out} holds a sweep with other settings (${identityFile}: ${JSON.stringify(previous)}); ` +
        'use another --out, or delete that directory to start over',
    );
  }
  writeFileAtomic(identityFile, JSON.stringify(identity, null, 2) + '\n');
}

/** OUT/data/: the held-out pairs (eval.jsonl) and one nested training subset per size (train-N.jsonl). */
async function writeSplit(o: CompareOptions, sizes: readonly number[], methods: readonly SweepMethod[]) {
  const { pairs } = await loadPreferences(o.data);
  if (o.evalSize < 1) throw new UsageError('--eval-size must be at least 1');
  const split = splitEval(pairs, { evalSize: o.evalSize, seed: o.seed });
  const largest = sizes[sizes.length - 1]!;
  if (largest > split.train.length) {
    throw new UsageError(`--sizes asks for ${largest} training pairs, but ${o.data} has ${split.train.length} left after the ${o.evalSize} held-out pairs`);
  }
  const pool = selectSubset(split.train, { limit: largest, seed: o.seed });
  const dataDir = join(o.out, 'data');
  writeJsonl(join(dataDir, 'eval.jsonl'), split.eval);
  for (const size of sizes) {
    const subset = pool.slice(0, size);
    if (methods.includes('rdpo')) {
      const missing = subset.filter((p) => p.rationale === undefined || p.rationale.trim() === '').length;
      if (missing > 0) {
        throw new UsageError(
          `${missing} of the ${size} training pairs have no rationale, which RDPO needs; add them with \`rdpo-native rationales\` (or run with --methods dpo)`,
        );
      }
    }
    writeJsonl(join(dataDir, `train-${size}.jsonl`), subset);
  }
  return { split, largest, dataDir };
}

/** SFT on the largest subset, then every method at every size from it. */
async function trainAll(
  o: CompareOptions,
  log: (line: string) => void,
  sizes: readonly number[],
  methods: readonly SweepMethod[],
  largest: number,
  dataDir: string,
): Promise<{ sft: RunRecord; runs: RunRecord[] }> {
  const shared = { seed: o.seed, ...o.train };
  const sft = await train(o, log, 'sft', 'sft', largest, {
    ...shared,
    ...o.sftTrain,
    model: o.model,
    data: join(dataDir, `train-${largest}.jsonl`),
    loss: 'sft',
    out: join(o.out, 'runs', 'sft'),
  });
  const runs: RunRecord[] = [];
  for (const size of sizes) {
    for (const method of methods) {
      runs.push(
        await train(o, log, `${method}-${size}`, method, size, {
          ...shared,
          model: sft.modelDir,
          refModel: sft.modelDir,
          data: join(dataDir, `train-${size}.jsonl`),
          loss: method,
          out: join(o.out, 'runs', `${method}-${size}`),
        }),
      );
    }
  }
  return { sft, runs };
}

/** One training run, skipped when OUT/runs/NAME/eval-run.json and its model are there. */
async function train(
  o: CompareOptions,
  log: (line: string) => void,
  name: string,
  method: RunRecord['method'],
  size: number,
  config: TrainConfigInput,
): Promise<RunRecord> {
  const recordFile = join(o.out, 'runs', name, 'eval-run.json');
  const done = readJson<RunRecord>(recordFile);
  if (done && existsSync(done.modelDir)) {
    log(`${name}: trained already (${done.modelDir})`);
    return done;
  }
  log(`${name}: training (${method}, ${size} pairs)`);
  // A run directory left by an interrupted sweep continues from its last checkpoint.
  const resumable = config.out !== undefined && existsSync(join(config.out, 'metrics.jsonl'));
  const result = await o.trainer(resumable ? { ...config, resume: config.out } : config, o.interruption ? { signal: o.interruption.abandon } : {});
  if (result.interrupted || !result.finalModelDir)
    throw new UsageError(`${name}: training was interrupted at step ${result.steps}; rerun the same command to continue`);
  const record: RunRecord = {
    name,
    method,
    size,
    modelDir: result.finalModelDir,
    steps: result.steps,
    metrics: { ...(result.lastMetrics ?? {}), ...(result.lastEval ? { eval: result.lastEval } : {}) },
  };
  writeFileAtomic(recordFile, JSON.stringify(record, null, 2) + '\n');
  return record;
}

/** What the evaluation steps share. */
interface EvalContext {
  o: CompareOptions;
  log: (line: string) => void;
  evalPairs: readonly PreferencePair[];
  prompts: PromptItem[];
  beta: number;
  /** The reference of every preference-trained model. */
  sft: RunRecord;
}

/** Reward accuracy on the held-out pairs, skipped when OUT/preference/NAME/preference.json is there. */
async function scorePreference(c: EvalContext, run: RunRecord): Promise<PreferenceEvalResult> {
  const { o, log } = c;
  const dir = join(o.out, 'preference', run.name);
  const done = readJson<PreferenceEvalResult>(join(dir, 'preference.json'));
  if (done) return done;
  log(`${run.name}: scoring ${c.evalPairs.length} held-out pairs`);
  return runPreferenceEval({
    modelDir: run.modelDir,
    ...(run.method !== 'sft' ? { refModelDir: c.sft.modelDir } : {}),
    pairs: c.evalPairs,
    beta: c.beta,
    outDir: dir,
    ...(o.load ? { load: o.load } : {}),
    log,
  });
}

const generationFile = (o: CompareOptions, run: RunRecord) => join(o.out, 'generations', `${run.name}.jsonl`);

async function generate(c: EvalContext, run: RunRecord): Promise<GenerationStats> {
  const { o, log } = c;
  mkdirSync(join(o.out, 'generations'), { recursive: true });
  log(`${run.name}: generating on ${c.prompts.length} prompts`);
  const g = await runGeneration({
    modelDir: run.modelDir,
    prompts: c.prompts,
    outFile: generationFile(o, run),
    sampling: o.sampling,
    ...(o.load ? { load: o.load } : {}),
    log,
  });
  return generationStats(g.rows);
}

function judge(c: EvalContext, a: RunRecord, b: RunRecord) {
  const { o } = c;
  return runComparison({
    modelA: generationFile(o, a),
    modelB: generationFile(o, b),
    prompts: c.prompts,
    judge: o.judge,
    repeats: o.repeats,
    outDir: join(o.out, 'judge', `${a.name}-vs-${b.name}`),
    sampling: o.sampling,
    nameA: a.name,
    nameB: b.name,
    ...(o.interruption ? { interruption: o.interruption } : {}),
    log: c.log,
  });
}

/** RDPO judged against DPO at each size, when both were trained. */
async function judgeRdpoAgainstDpo(
  c: EvalContext,
  runs: readonly RunRecord[],
  sizes: readonly number[],
  methods: readonly SweepMethod[],
): Promise<SweepResults['rdpoVsDpo']> {
  const rdpoVsDpo: SweepResults['rdpoVsDpo'] = [];
  if (methods.includes('dpo') && methods.includes('rdpo')) {
    for (const size of sizes) {
      const r = runs.find((x) => x.method === 'rdpo' && x.size === size)!;
      const d = runs.find((x) => x.method === 'dpo' && x.size === size)!;
      c.log(`${r.name}: judging against ${d.name}`);
      rdpoVsDpo.push({ size, summary: await judge(c, r, d) });
    }
  }
  return rdpoVsDpo;
}

function dedupePrompts(pairs: readonly PreferencePair[], limit: number | undefined, seed: number): PromptItem[] {
  const seen = new Set<string>();
  const items: PromptItem[] = [];
  for (const p of pairs) {
    const key = JSON.stringify(pairPrompt(p));
    if (seen.has(key)) continue;
    seen.add(key);
    items.push(pairPromptItem(p));
  }
  return limit === undefined ? items : selectSubset(items, { limit, seed });
}
