// `rdpo-native eval`: preference accuracy (--data), generation with length statistics (--prompts),
// or a judged pairwise comparison (--model-a/--model-b --judge).
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { realNumberOption as realNumber, wholeNumberOption as wholeNumber } from '../number_options.js';
import { handleInterrupts } from '../../jobs/interrupt.js';
import { formatPairwiseSummary } from '../../eval/pairwise.js';
import { openJudge } from '../../eval/open_judge.js';
import {
  DEFAULT_SAMPLING,
  PAPER_JUDGE_REPEATS,
  PAPER_SAMPLING,
  heldOutPairs,
  loadPromptSet,
  runComparison,
  runGeneration,
  runPreferenceEval,
} from '../../eval/run_eval.js';
import type { SamplingSettings } from '../../inference/text_generator.js';
import { writeFileAtomic } from '../../util/atomic_write.js';
import { dataSource } from '../data_source.js';
import { parseDtypeOption } from '../dtype_option.js';
import { PROMPT_FORMATS, type PromptFormatSetting } from '../../tokenize/prompt_format.js';

interface EvalOptions {
  model?: string;
  refModel?: string;
  data?: string;
  evalSize?: string;
  limit?: string;
  seed: string;
  beta: string;
  batchSize: string;
  prompts?: string;
  maxNewTokens: string;
  temperature: string;
  topP: string;
  topK: string;
  modelA?: string;
  modelB?: string;
  judge?: string;
  judgeModel?: string;
  judgeMaxTokens: string;
  apiKeyEnv?: string;
  repeats: string;
  concurrency: string;
  dtype?: string;
  device?: string;
  adapter?: string;
  out: string;
  json?: boolean;
  promptFormat: string;
  preset?: string;
}

export function samplingFrom(o: { maxNewTokens: string; temperature: string; topP: string; topK: string; seed: string }): SamplingSettings {
  return {
    maxNewTokens: wholeNumber(o.maxNewTokens, '--max-new-tokens', 1),
    temperature: realNumber(o.temperature, '--temperature', 0, 10),
    topP: realNumber(o.topP, '--top-p', 0, 1),
    topK: wholeNumber(o.topK, '--top-k', 0),
    seed: wholeNumber(o.seed, '--seed', 0),
  };
}

/** eval's and compare's `--dtype`: the dtype the evaluated models are loaded (and compute) in. */
export function dtypeFrom(value: string | undefined): 'float32' | 'bfloat16' | undefined {
  return value === undefined ? undefined : parseDtypeOption(value, ['float32', 'bfloat16']);
}

const log = (line: string) => process.stderr.write(line + '\n');
const pct = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(1)}%`);

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('evaluate: preference accuracy (--data), generation lengths (--prompts), or a judged winrate (--model-a/--model-b --judge)');
  addEvalOptions(cmd).action(evalAction);
}

function addEvalOptions(cmd: Command): Command {
  return cmd
    .option('--model <dir|org/name[@rev]>', 'the model to evaluate')
    .option('--adapter <dir>', "a LoRA adapter (PEFT format, e.g. a LoRA run's final/) on --model")
    .option('--ref-model <dir|org/name[@rev]>', '--data: the reference model of the implicit reward (without it: log-prob accuracy)')
    .option('--data <file|org/name[@rev][:split]>', 'preference pairs to score (a file or a hub dataset split)')
    .option('--eval-size <n>', '--data: score the held-out split of this size (the split train --eval-size makes with the same seed)')
    .option('--limit <n>', 'use at most this many pairs or prompts (seeded subset)')
    .option('--seed <s>', 'seed of splits, subsets, sampling and the judge', '0')
    .option('--beta <b>', '--data: β of the implicit reward', '0.1')
    .option('--batch-size <n>', 'pairs or prompts per forward', '8')
    .option('--prompts <file>', 'prompt set (MT-Bench/Vicuna questions, instruction or prompt JSONL, or a preference file)')
    .option('--max-new-tokens <n>', 'longest response', String(DEFAULT_SAMPLING.maxNewTokens))
    .option('--temperature <t>', 'sampling temperature of the evaluated models (0: greedy)', String(DEFAULT_SAMPLING.temperature))
    .option('--top-p <p>', 'nucleus sampling of the evaluated models', String(DEFAULT_SAMPLING.topP))
    .option('--top-k <k>', 'top-k filter (0: none)', '0')
    .option('--model-a <dir|file.jsonl>', 'the candidate: a model directory or a generation file')
    .option('--model-b <dir|file.jsonl>', 'the baseline: a model directory or a generation file')
    .option('--judge <spec>', 'a model directory, openai:BASE_URL, or exact:NAME (a built-in checker: arithmetic)')
    .option('--judge-model <name>', 'the model name on an openai: server that serves several')
    .option('--judge-max-tokens <n>', 'longest judge answer', '32')
    .option('--api-key-env <name>', 'environment variable holding the judge server key (default OPENAI_API_KEY)')
    .option('--repeats <n>', 'judge queries per presentation order', '3')
    .option('--concurrency <n>', 'judge requests in flight', '4')
    .option('--dtype <dtype>', 'weight dtype the evaluated models are loaded and compute in: float32 (f32) | bfloat16 (bf16) (default: float32)')
    .option('--device <device>', 'cpu, cuda, cuda:N or mps')
    .option('--out <dir>', 'where results go (rerun with the same --out to resume)', 'rdpo-eval')
    .option('--json', 'print the summary as JSON')
    .option('--prompt-format <f>', 'auto (the format each model was trained with, else chat when it has a chat template) | chat | plain', 'auto')
    .option(
      '--preset <name>',
      "paper: the paper's protocol — sampled answers (temperature 1, top-p 0.95) within 2,048 new tokens, 3 judge queries per order; explicit flags win",
    );
}

/** `--preset paper`: the paper's sampling and judge repeats, under the flags given explicitly. */
function applyPreset(opts: EvalOptions, cmd: Command): void {
  if (opts.preset === undefined) return;
  if (opts.preset !== 'paper') throw new UsageError(`--preset must be paper, got "${opts.preset}"`);
  const preset: Record<string, string> = {
    maxNewTokens: String(PAPER_SAMPLING.maxNewTokens),
    temperature: String(PAPER_SAMPLING.temperature),
    topP: String(PAPER_SAMPLING.topP),
    repeats: String(PAPER_JUDGE_REPEATS),
  };
  for (const [key, value] of Object.entries(preset)) if (cmd.getOptionValueSource(key) !== 'cli') (opts as unknown as Record<string, string>)[key] = value;
}

/** What every kind of evaluation reads from the flags. */
interface EvalCommon {
  seed: number;
  limit: number | undefined;
  load: { dtype?: 'float32' | 'bfloat16'; device?: string };
  promptFormat: PromptFormatSetting;
  print: (summary: unknown, text: string) => void;
}

async function evalAction(opts: EvalOptions, cmd: Command): Promise<void> {
  if (!(PROMPT_FORMATS as readonly string[]).includes(opts.promptFormat))
    throw new UsageError(`--prompt-format must be ${PROMPT_FORMATS.join(', ')}, got "${opts.promptFormat}"`);
  applyPreset(opts, cmd);
  const dtype = dtypeFrom(opts.dtype);
  const common: EvalCommon = {
    seed: wholeNumber(opts.seed, '--seed', 0),
    limit: opts.limit !== undefined ? wholeNumber(opts.limit, '--limit', 1) : undefined,
    load: { ...(dtype ? { dtype } : {}), ...(opts.device !== undefined ? { device: opts.device } : {}) },
    promptFormat: opts.promptFormat as PromptFormatSetting,
    print: (summary, text) => console.log(opts.json ? JSON.stringify(summary, null, 2) : text),
  };
  if (opts.modelA !== undefined || opts.modelB !== undefined) return judgedComparison(opts, common);
  if (opts.model === undefined) throw new UsageError('give --model DIR (with --data or --prompts), or --model-a and --model-b with --judge');
  if (opts.data !== undefined) return preferenceAccuracy(opts, opts.model, opts.data, common);
  if (opts.prompts !== undefined) return generationLengths(opts, opts.model, opts.prompts, common);
  throw new UsageError('--model needs --data FILE (preference accuracy) or --prompts FILE (generation)');
}

/** `--model-a/--model-b --judge`: the judged winrate, resumable in --out. */
async function judgedComparison(opts: EvalOptions, { seed, limit, load, promptFormat, print }: EvalCommon): Promise<void> {
  if (opts.adapter !== undefined) throw new UsageError('--adapter applies to --model; for a comparison, merge the adapter first (rdpo-native merge-lora)');
  if (opts.modelA === undefined || opts.modelB === undefined) throw new UsageError('a comparison needs both --model-a and --model-b');
  if (opts.judge === undefined) throw new UsageError('a comparison needs --judge (a model directory, openai:BASE_URL or exact:NAME)');
  const prompts = opts.prompts !== undefined ? await loadPromptSet(opts.prompts, { ...(limit !== undefined ? { limit, seed } : {}) }) : undefined;
  const judge = await openJudge(opts.judge, {
    ...(opts.judgeModel !== undefined ? { judgeModel: opts.judgeModel } : {}),
    ...(opts.apiKeyEnv !== undefined ? { apiKeyEnv: opts.apiKeyEnv } : {}),
    maxNewTokens: wholeNumber(opts.judgeMaxTokens, '--judge-max-tokens', 1),
    seed,
    ...load,
  });
  const interrupts = handleInterrupts(log);
  try {
    const summary = await runComparison({
      modelA: opts.modelA,
      modelB: opts.modelB,
      ...(prompts ? { prompts } : {}),
      judge,
      repeats: wholeNumber(opts.repeats, '--repeats', 1),
      concurrency: wholeNumber(opts.concurrency, '--concurrency', 1),
      outDir: opts.out,
      sampling: samplingFrom(opts),
      load,
      promptFormat,
      interruption: interrupts.interruption,
      log,
    });
    print(summary, `${formatPairwiseSummary(summary)}\njudgments: ${join(opts.out, 'judgments.jsonl')}\nsummary: ${join(opts.out, 'summary.json')}`);
    if (!summary.complete) process.exitCode = interrupts.exitCode ?? 1;
  } finally {
    interrupts.dispose();
    await judge.close();
  }
}

/** `--model --data`: reward and log-prob accuracy on the held-out pairs. */
async function preferenceAccuracy(opts: EvalOptions, model: string, data: string, { seed, limit, load, promptFormat, print }: EvalCommon): Promise<void> {
  const pairs = await heldOutPairs(await dataSource(data), {
    ...(opts.evalSize !== undefined ? { evalSize: wholeNumber(opts.evalSize, '--eval-size', 1) } : {}),
    ...(limit !== undefined ? { limit } : {}),
    seed,
  });
  const r = await runPreferenceEval({
    modelDir: model,
    ...(opts.adapter !== undefined ? { adapter: opts.adapter } : {}),
    ...(opts.refModel !== undefined ? { refModelDir: opts.refModel } : {}),
    pairs,
    beta: realNumber(opts.beta, '--beta', 0),
    batchSize: wholeNumber(opts.batchSize, '--batch-size', 1),
    outDir: opts.out,
    load,
    promptFormat,
    log,
  });
  const lines = [
    `${r.model} on ${r.pairs} held-out pairs${r.dropped ? ` (${r.dropped} too long, left out)` : ''}:`,
    r.reference !== null
      ? `reward accuracy ${pct(r.rewardAccuracy)}, mean margin ${r.meanRewardMargin!.toFixed(4)} (β = ${r.beta}, reference ${r.reference}); chosen ${r.meanChosenReward!.toFixed(4)}, rejected ${r.meanRejectedReward!.toFixed(4)}`
      : 'no --ref-model: log-prob accuracy only',
    `log-prob accuracy ${pct(r.logprobAccuracy)}, mean log-prob margin ${r.meanLogprobMargin.toFixed(3)}`,
    `summary: ${join(opts.out, 'preference.json')}`,
  ];
  print(r, lines.join('\n'));
}

/** `--model --prompts`: responses and their length statistics. */
async function generationLengths(opts: EvalOptions, model: string, promptFile: string, { seed, limit, load, promptFormat, print }: EvalCommon): Promise<void> {
  const prompts = await loadPromptSet(promptFile, { ...(limit !== undefined ? { limit, seed } : {}) });
  const outFile = join(opts.out, 'generations.jsonl');
  mkdirSync(opts.out, { recursive: true });
  const g = await runGeneration({
    modelDir: model,
    ...(opts.adapter !== undefined ? { adapter: opts.adapter } : {}),
    prompts,
    outFile,
    sampling: samplingFrom(opts),
    batchSize: wholeNumber(opts.batchSize, '--batch-size', 1),
    load,
    promptFormat,
    log,
  });
  const summary = { model: g.model, prompts: promptFile, sampling: samplingFrom(opts), ...g.stats };
  writeFileAtomic(join(opts.out, 'generation_summary.json'), JSON.stringify(summary, null, 2) + '\n');
  const s = g.stats;
  print(
    summary,
    [
      `${g.model}: ${s.count} responses${s.truncated ? ` (${s.truncated} hit --max-new-tokens)` : ''}`,
      `characters: mean ${s.chars.mean.toFixed(1)}, median ${s.chars.median}, p90 ${s.chars.p90}`,
      `tokens:     mean ${s.tokens.mean.toFixed(1)}, median ${s.tokens.median}, p90 ${s.tokens.p90}`,
      `responses: ${outFile}`,
    ].join('\n'),
  );
}
