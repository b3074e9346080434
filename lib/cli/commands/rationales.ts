import type { Command } from 'commander';
import { isPreferenceFormat } from '../../data/formats/index.js';
import { loadPreferences } from '../../data/load.js';
import { dataSource } from '../data_source.js';
import { UsageError } from '../../errors.js';
import { dtypeChoices, WEIGHT_DTYPES, weightDtypeOption } from '../dtype_option.js';
import { openGenerator } from '../../llm/connect.js';
import { defaultDroppedFile, filterRationales, formatFilterSummary } from '../../rationales/filter.js';
import { formatGenerateSummary, generateRationales } from '../../rationales/generate.js';
import { handleInterrupts } from '../../jobs/interrupt.js';
import { assertOutputNotInput, samePath } from '../../util/output_paths.js';
import { builtinTemplate, loadTemplate, parseStyle, type RationaleTemplate } from '../../rationales/prompts.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../../llm/retry.js';
import type { BudgetTokenizer } from '../../rationales/token_budget.js';

function int(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be an integer ≥ ${min} (got "${value}")`);
    return n;
  };
}

function num(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${name} must be a number in [${min}, ${max}] (got "${value}")`);
    return n;
  };
}

interface CommonOptions {
  concurrency: number;
  limit?: number;
  maxNewTokens: number;
  temperature: number;
  topP?: number;
  seed?: number;
  apiKeyEnv?: string;
  maxAttempts: number;
  requestTimeout: number;
  dtype?: string;
  device?: string;
  progress: boolean;
}

function addCommonOptions(cmd: Command, defaults: { maxNewTokens: number; temperature: number; concurrency: number }): Command {
  return cmd
    .option('--concurrency <n>', 'requests in flight at once (a local model batches them)', int('--concurrency', 1), defaults.concurrency)
    .option('--limit <n>', 'only the first N rows (a seeded subset with --seed)', int('--limit', 1))
    .option('--max-new-tokens <n>', 'longest answer, in tokens', int('--max-new-tokens', 1), defaults.maxNewTokens)
    .option('--temperature <t>', 'sampling temperature (0: greedy)', num('--temperature', 0, 2), defaults.temperature)
    .option('--top-p <p>', 'nucleus sampling', num('--top-p', 0.000001, 1))
    .option('--seed <s>', 'sampling seed (servers treat it as best effort)', int('--seed', 0))
    .option('--api-key-env <NAME>', 'environment variable with the API key (default OPENAI_API_KEY); never printed')
    .option('--max-attempts <n>', 'tries per request on 429/5xx/timeouts/connection errors', int('--max-attempts', 1), DEFAULT_RETRY.maxAttempts)
    .option('--request-timeout <seconds>', 'give up on one request after this long (then retry)', num('--request-timeout', 0.001, 86_400), 600)
    .option('--dtype <dtype>', `local model: weight dtype (storage) it is loaded in: ${dtypeChoices(WEIGHT_DTYPES)}`, weightDtypeOption)
    .option('--device <device>', 'local model: cpu, cuda, cuda:1, mps')
    .option('--no-progress', 'no progress bar even on a terminal');
}

function retryPolicy(o: CommonOptions): RetryPolicy {
  return { ...DEFAULT_RETRY, maxAttempts: o.maxAttempts };
}

const log = (line: string) => process.stderr.write(line + '\n');

interface GenerateOptions extends CommonOptions {
  data: string;
  out: string;
  style: ReturnType<typeof parseStyle>;
  generator: string;
  generatorModel?: string;
  template?: string;
  tokenizer?: string;
  format?: string;
  skipInvalid?: boolean;
}

interface FilterOptions extends CommonOptions {
  in: string;
  out: string;
  judge: string;
  judgeModel?: string;
  dropped?: string;
  judgeAttempts: number;
}

export function registerRationales(program: Command): void {
  // `rationales` and `rationales filter` share option names (--out, --concurrency, …); commander
  // gives an option after the sub-command name to the sub-command only when positional options
  // are on along the whole chain. The program itself has only --help and --version.
  program.enablePositionalOptions();
  const rationales = program
    .command('rationales')
    .enablePositionalOptions()
    .description('write a rationale for each preference pair with a local model or an OpenAI-compatible server (resumable)');
  addCommonOptions(addGenerateOptions(rationales), { maxNewTokens: 256, temperature: 0.7, concurrency: 8 }).action(generateAction);
  const filter = rationales
    .command('filter')
    .description('score each rationale with a judge (helpfulness, relatedness, correctness, coherence, 1–5) and drop it if any score ≤ 3');
  addCommonOptions(addFilterOptions(filter), { maxNewTokens: 128, temperature: 0, concurrency: 8 }).action(filterAction);
}

function addGenerateOptions(cmd: Command): Command {
  return (
    cmd
      // Required, but checked in the action: commander would demand them of `rationales filter` too.
      .option('--data <file|org/name[@rev][:split]>', 'preference pairs (any format `rdpo-native` reads, or a hub dataset) (required)')
      .option('--out <file.jsonl>', 'output JSONL; rerunning the same command resumes it (required)')
      .option('--style <style>', 'general (high-level) or detailed (points at the responses) (required)', parseStyle)
      .option('--generator <DIR|openai:BASE_URL>', 'a local model directory, or openai:http://HOST:PORT/v1 (required)')
      .option('--generator-model <name>', 'the served model (may be omitted when the server serves exactly one)')
      .option('--template <file>', 'your own instruction with {prompt}, {chosen} and {rejected} slots')
      .option('--tokenizer <dir>', "count the --max-new-tokens a rationale is cut to with this tokenizer (the policy model's); default: an estimate")
      .option('--format <format>', 'input format (default: detected)')
      .option('--skip-invalid', 'skip and count invalid input rows instead of failing')
  );
}

function addFilterOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--in <file.jsonl>', 'the output of `rdpo-native rationales`')
    .requiredOption('--out <file.jsonl>', 'kept rows with their `rationale_scores`; rerunning resumes it')
    .requiredOption('--judge <DIR|openai:BASE_URL>', 'a local model directory, or openai:http://HOST:PORT/v1')
    .option('--judge-model <name>', 'the served judge model (may be omitted when the server serves exactly one)')
    .option('--dropped <file.jsonl>', 'where dropped rows go (default: <out>.dropped.jsonl)')
    .option('--judge-attempts <n>', 'tries per row when the judge answer has no readable scores', int('--judge-attempts', 1), 3);
}

/** The generator or judge: a local model (with --dtype/--device) or a server. */
function openModel(spec: string, model: string | undefined, o: CommonOptions) {
  return openGenerator(spec, {
    ...(model !== undefined ? { model } : {}),
    ...(o.apiKeyEnv !== undefined ? { apiKeyEnv: o.apiKeyEnv } : {}),
    timeoutMs: o.requestTimeout * 1000,
    ...(o.dtype !== undefined ? { dtype: o.dtype } : {}),
    ...(o.device !== undefined ? { device: o.device } : {}),
    maxBatch: o.concurrency,
  });
}

function samplingOf(o: CommonOptions) {
  return {
    maxNewTokens: o.maxNewTokens,
    temperature: o.temperature,
    ...(o.topP !== undefined ? { topP: o.topP } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
}

/** The rationale command's checks, in order: the required flags, outputs that are not inputs, the template, the tokenizer, the format. */
async function checkedGenerateInputs(o: GenerateOptions): Promise<{ template: RationaleTemplate; tokenizer?: BudgetTokenizer }> {
  const missing = (['data', 'out', 'style', 'generator'] as const).filter((k) => o[k] === undefined).map((k) => `--${k}`);
  if (missing.length > 0) throw new UsageError(`rationales: missing ${missing.join(', ')} (see \`rdpo-native rationales --help\`)`);
  assertOutputNotInput({ flag: '--out', path: o.out }, [
    { flag: '--data', path: o.data },
    { flag: '--template', path: o.template },
    { flag: '--generator', path: o.generator },
  ]);
  const template = o.template !== undefined ? loadTemplate(o.template) : builtinTemplate(o.style);
  const tokenizer = o.tokenizer !== undefined ? await loadBudgetTokenizer(o.tokenizer) : undefined;
  if (o.format !== undefined && !isPreferenceFormat(o.format))
    throw new UsageError(`--format: unknown format "${o.format}" (\`rdpo-native data --help\` lists them)`);
  return { template, ...(tokenizer !== undefined ? { tokenizer } : {}) };
}

async function loadBudgetTokenizer(dir: string): Promise<BudgetTokenizer> {
  // Loaded on demand, as the local generator is: a run against a server needs no tokenizer.
  const { Tokenizer, TokenizerLoadError } = await import('../../tokenize/tokenizer.js');
  try {
    return Tokenizer.load(dir);
  } catch (err) {
    throw err instanceof TokenizerLoadError ? new UsageError(`--tokenizer: ${err.message}`) : err;
  }
}

async function generateAction(o: GenerateOptions): Promise<void> {
  const { template, tokenizer } = await checkedGenerateInputs(o);
  const format = o.format;
  const { pairs, report } = await loadPreferences(await dataSource(o.data), {
    ...(format !== undefined && isPreferenceFormat(format) ? { format } : {}),
    ...(o.skipInvalid ? { skipInvalid: true } : {}),
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  });
  if (report.invalid > 0) log(`${o.data}: skipped ${report.invalid} invalid rows`);
  if (report.duplicates > 0) log(`${o.data}: ${report.duplicates} rows repeat an earlier pair and were dropped`);
  const generator = await openModel(o.generator, o.generatorModel, o);
  const interrupts = handleInterrupts(log);
  try {
    const summary = await generateRationales({
      pairs,
      outFile: o.out,
      style: o.style,
      template,
      generator,
      sampling: samplingOf(o),
      concurrency: o.concurrency,
      retry: retryPolicy(o),
      ...(tokenizer !== undefined ? { tokenizer } : {}),
      interruption: interrupts.interruption,
      progress: o.progress && process.stderr.isTTY === true,
      log,
    });
    log(formatGenerateSummary(summary, o.out));
    finish(interrupts.exitCode ?? (summary.failed.length > 0 ? 1 : 0));
  } finally {
    interrupts.dispose();
    if (interrupts.exitCode === undefined) await generator.close();
  }
}

async function filterAction(o: FilterOptions): Promise<void> {
  const droppedFile = o.dropped ?? defaultDroppedFile(o.out);
  assertOutputNotInput({ flag: '--out', path: o.out }, [
    { flag: '--in', path: o.in },
    { flag: '--judge', path: o.judge },
  ]);
  if (samePath(o.out, droppedFile)) throw new UsageError(`--dropped ${droppedFile} is --out ${o.out}; kept and dropped rows need two files`);
  assertOutputNotInput({ flag: '--dropped', path: droppedFile }, [
    { flag: '--in', path: o.in },
    { flag: '--judge', path: o.judge },
  ]);
  const judge = await openModel(o.judge, o.judgeModel, o);
  const interrupts = handleInterrupts(log);
  try {
    const summary = await filterRationales({
      inFile: o.in,
      outFile: o.out,
      droppedFile,
      judge,
      sampling: samplingOf(o),
      judgeAttempts: o.judgeAttempts,
      concurrency: o.concurrency,
      retry: retryPolicy(o),
      interruption: interrupts.interruption,
      progress: o.progress && process.stderr.isTTY === true,
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
      log,
    });
    log(formatFilterSummary(summary, o.out, droppedFile));
    finish(interrupts.exitCode ?? (summary.failed.length > 0 ? 1 : 0));
  } finally {
    interrupts.dispose();
    if (interrupts.exitCode === undefined) await judge.close();
  }
}

/**
 * After an interruption, exit at once: abandoned local generations may still be running natively and
 * would hold the process open. Otherwise set the code and let the process end by itself.
 */
function finish(code: number): void {
  if (code === 130 || code === 143) process.exit(code);
  process.exitCode = code;
}
