// The three evaluations behind `rdpo-native eval`, as functions that `compare` reuses: preference
// accuracy on held-out pairs, generation with length statistics, and a judged pairwise comparison.
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { PreferencePair } from '../data/schema.js';
import { loadPreferences, type DataFiles } from '../data/load.js';
import { selectSubset, splitEval } from '../data/subset.js';
import type { Interruption } from '../jobs/runner.js';
import { writeFileAtomic } from '../util/atomic_write.js';
import { JsonlAppender } from '../util/jsonl_append.js';
import { generateResponses, generationStats, readGenerations, type GenerationStats } from './generate.js';
import type { PairwiseJudge } from './judge.js';
import { loadModel, type ModelLoadOptions } from '../inference/load_model.js';
import { TextGenerator, type SamplingSettings } from '../inference/text_generator.js';
import { runPairwise, type PairwiseItem, type PairwiseSummary } from './pairwise.js';
import { evaluatePreferences, type PreferenceEvalResult } from './preference_eval.js';
import { loadPromptSet, type PromptItem } from './prompts.js';
import { promptFormatFor, type PromptFormatSetting } from '../tokenize/prompt_format.js';

export const DEFAULT_SAMPLING: SamplingSettings = { maxNewTokens: 256, temperature: 0, topP: 0.95, seed: 0 };

/**
 * The paper's evaluation protocol (`eval --preset paper`): answers sampled with top-p 0.95 at
 * temperature 1 within a 2,048-token budget (so verbosity is not capped), judged pairwise in both
 * orders (3 queries each), an unparseable judgment counted in the total, ties half.
 */
export const PAPER_SAMPLING: SamplingSettings = { maxNewTokens: 2048, temperature: 1, topP: 0.95, seed: 0 };
export const PAPER_JUDGE_REPEATS = 3;

export interface HeldOutOptions {
  /** Split off this many pairs first (the same split `train --eval-size` and `compare` use) and score those. */
  evalSize?: number;
  /** Then keep at most this many (seeded). */
  limit?: number;
  seed?: number;
}

/** The held-out pairs of a data file: the eval split when evalSize is given, then a seeded limit. */
export async function heldOutPairs(data: string | DataFiles, o: HeldOutOptions): Promise<PreferencePair[]> {
  const dataFile = typeof data === 'string' ? data : data.label;
  const { pairs } = await loadPreferences(data);
  let held = o.evalSize !== undefined ? splitEval(pairs, { evalSize: o.evalSize, seed: o.seed ?? 0 }).eval : pairs;
  if (o.limit !== undefined) held = selectSubset(held, { limit: o.limit, seed: o.seed ?? 0 });
  if (held.length === 0) throw new UsageError(`${dataFile}: no pairs left to evaluate`);
  return held;
}

export interface PreferenceEvalRun extends HeldOutOptions {
  modelDir: string;
  /** A LoRA adapter on the evaluated model (not on the reference). */
  adapter?: string;
  refModelDir?: string;
  pairs: readonly PreferencePair[];
  beta?: number;
  batchSize?: number;
  outDir: string;
  load?: ModelLoadOptions;
  promptFormat?: PromptFormatSetting;
  /** Tokenization limits (default: maxLength 1024, maxPromptLength 512). */
  maxLength?: number;
  maxPromptLength?: number;
  log?: (line: string) => void;
}

/** Writes OUT/preference.json (the summary) and OUT/preference_pairs.jsonl (per-pair log-probs and rewards). */
export async function runPreferenceEval(o: PreferenceEvalRun): Promise<PreferenceEvalResult & { model: string }> {
  const policy = await loadModel(o.modelDir, { ...o.load, ...(o.adapter !== undefined ? { adapter: o.adapter } : {}) });
  const reference = o.refModelDir !== undefined ? await loadModel(o.refModelDir, o.load) : undefined;
  try {
    const { result, scores } = await evaluatePreferences({
      policy,
      ...(reference ? { reference } : {}),
      pairs: o.pairs,
      ...(o.beta !== undefined ? { beta: o.beta } : {}),
      ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
      tokenize: {
        format: promptFormatFor(o.adapter ?? o.modelDir, policy.tokenizer, o.promptFormat),
        ...(o.maxLength !== undefined ? { maxLength: o.maxLength } : {}),
        ...(o.maxPromptLength !== undefined ? { maxPromptLength: o.maxPromptLength } : {}),
      },
      ...(o.log ? { warn: o.log } : {}),
    });
    mkdirSync(o.outDir, { recursive: true });
    const pairsFile = join(o.outDir, 'preference_pairs.jsonl');
    rmSync(pairsFile, { force: true });
    const out = new JsonlAppender(pairsFile);
    for (const s of scores) out.append(s);
    out.close();
    const summary = { model: policy.name, ...result };
    writeFileAtomic(join(o.outDir, 'preference.json'), JSON.stringify(summary, null, 2) + '\n');
    return summary;
  } finally {
    policy.lm.dispose();
    reference?.lm.dispose();
  }
}

export interface GenerationRun {
  modelDir: string;
  /** A LoRA adapter on the model. */
  adapter?: string;
  prompts: readonly PromptItem[];
  outFile: string;
  sampling: SamplingSettings;
  batchSize?: number;
  load?: ModelLoadOptions;
  promptFormat?: PromptFormatSetting;
  log?: (line: string) => void;
}

export async function runGeneration(
  o: GenerationRun,
): Promise<{ model: string; rows: Awaited<ReturnType<typeof generateResponses>>['rows']; stats: GenerationStats }> {
  const generator = await TextGenerator.load(o.modelDir, { ...o.load, ...(o.adapter !== undefined ? { adapter: o.adapter } : {}) });
  try {
    const { rows } = await generateResponses({
      generator,
      prompts: o.prompts,
      outFile: o.outFile,
      sampling: o.sampling,
      promptFormat: promptFormatFor(o.adapter ?? o.modelDir, generator.tokenizer, o.promptFormat),
      ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
    return { model: generator.id, rows, stats: generationStats(rows) };
  } finally {
    await generator.dispose();
  }
}

/** A side of a comparison: a model directory (generated here) or a generation JSONL file. */
export function isGenerationFile(side: string): boolean {
  return existsSync(side) && statSync(side).isFile();
}

export interface ComparisonRun {
  modelA: string;
  modelB: string;
  /** Needed when a side is a model directory; else the items are the ids both files share. */
  prompts?: readonly PromptItem[];
  judge: PairwiseJudge;
  repeats: number;
  outDir: string;
  sampling: SamplingSettings;
  /** Names for the report (default: directory or file base names). */
  nameA?: string;
  nameB?: string;
  load?: ModelLoadOptions;
  promptFormat?: PromptFormatSetting;
  concurrency?: number;
  interruption?: Interruption;
  log?: (line: string) => void;
}

type SideRows = Map<string, { response: string; tokens?: number; prompt?: unknown }>;

async function sideRows(side: string, prompts: readonly PromptItem[] | undefined, o: ComparisonRun, label: 'a' | 'b'): Promise<SideRows> {
  if (isGenerationFile(side)) return readGenerations(side) as SideRows;
  if (!existsSync(side)) throw new UsageError(`--model-${label} ${side}: no such model directory or generation file`);
  if (!prompts) throw new UsageError(`--model-${label} ${side} is a model directory: give --prompts FILE to generate its responses`);
  const { rows } = await runGeneration({
    modelDir: side,
    prompts,
    outFile: join(o.outDir, `generations-${label}.jsonl`),
    sampling: o.sampling,
    ...(o.load ? { load: o.load } : {}),
    ...(o.promptFormat ? { promptFormat: o.promptFormat } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  return new Map(rows.map((r) => [r.id, r]));
}

function sideName(side: string): string {
  return basename(resolve(side)).replace(/\.jsonl$/i, '');
}

export async function runComparison(o: ComparisonRun): Promise<PairwiseSummary> {
  mkdirSync(o.outDir, { recursive: true });
  const a = await sideRows(o.modelA, o.prompts, o, 'a');
  const b = await sideRows(o.modelB, o.prompts, o, 'b');
  const items: PairwiseItem[] = [];
  const ids = o.prompts ? o.prompts.map((p) => p.id) : [...a.keys()].filter((id) => b.has(id));
  const promptOf = new Map(o.prompts?.map((p) => [p.id, p.prompt]));
  for (const id of ids) {
    const ra = a.get(id);
    const rb = b.get(id);
    if (!ra || !rb) throw new UsageError(`prompt ${JSON.stringify(id)} has no response from ${!ra ? o.modelA : o.modelB}; generate it or leave the prompt out`);
    const prompt = promptOf.get(id) ?? (ra.prompt as PairwiseItem['prompt'] | undefined);
    if (prompt === undefined) throw new UsageError(`${o.modelA}: the row of ${JSON.stringify(id)} has no \`prompt\`; give --prompts FILE`);
    items.push({
      id,
      prompt,
      a: ra.response,
      b: rb.response,
      ...(typeof ra.tokens === 'number' ? { aTokens: ra.tokens } : {}),
      ...(typeof rb.tokens === 'number' ? { bTokens: rb.tokens } : {}),
    });
  }
  if (items.length === 0) throw new UsageError(`${o.modelA} and ${o.modelB} share no prompt ids; nothing to compare`);
  return runPairwise({
    items,
    judge: o.judge,
    outDir: o.outDir,
    modelA: o.nameA ?? sideName(o.modelA),
    modelB: o.nameB ?? sideName(o.modelB),
    repeats: o.repeats,
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    ...(o.interruption ? { interruption: o.interruption } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
}

export { loadPromptSet };
