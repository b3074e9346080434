// `rdpo-native compare`: SFT, then DPO and RDPO at several training sizes, each judged against SFT
// (and RDPO against DPO), with OUT/report.md. Rerun the same command to resume.
import type { Command } from 'commander';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { readConfigFile, type TrainConfigInput } from '../../train/config.js';
import { train } from '../../train/trainer.js';
import { handleInterrupts } from '../../jobs/interrupt.js';
import { runCompare, type SweepMethod } from '../../eval/compare.js';
import { openJudge } from '../../eval/open_judge.js';
import { DEFAULT_SAMPLING } from '../../eval/run_eval.js';
import { dtypeFrom, samplingFrom } from './eval.js';
import { realNumberOption as realNumber, wholeNumberOption as wholeNumber } from '../number_options.js';

interface CompareFlags {
  model: string;
  data: string;
  sizes: string;
  evalSize: string;
  prompts?: string;
  promptLimit?: string;
  judge: string;
  judgeModel?: string;
  judgeMaxTokens: string;
  apiKeyEnv?: string;
  repeats: string;
  methods: string;
  seed: string;
  config?: string;
  lr?: string;
  sftLr?: string;
  batchSize?: string;
  maxSteps?: string;
  sftMaxSteps?: string;
  epochs?: string;
  beta?: string;
  gamma?: string;
  maxLength?: string;
  maxPromptLength?: string;
  maxNewTokens: string;
  temperature: string;
  topP: string;
  topK: string;
  dtype?: string;
  device?: string;
  out: string;
}

export function registerCompare(program: Command): void {
  const cmd = program
    .command('compare')
    .description("the paper's data-efficiency sweep: SFT, then DPO and RDPO per training size, judged against SFT and each other, with a report");
  addCompareOptions(cmd).action(compareAction);
}

function addCompareOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--model <dir|org/name[@rev]>', 'the base model (SFT starts from it)')
    .requiredOption('--data <file>', 'preference pairs with rationales')
    .option('--sizes <list>', 'training sizes, comma-separated', '1000,3000,5000')
    .option('--eval-size <n>', 'held-out pairs (reward accuracy; and the evaluation prompts unless --prompts)', '200')
    .option('--prompts <file>', 'evaluation prompts instead of the held-out pairs (e.g. mt_bench-questions.jsonl)')
    .option('--prompt-limit <n>', 'at most this many evaluation prompts (seeded)')
    .requiredOption('--judge <spec>', 'a model directory, openai:BASE_URL, or exact:NAME')
    .option('--judge-model <name>', 'the model name on an openai: server that serves several')
    .option('--judge-max-tokens <n>', 'longest judge answer', '32')
    .option('--api-key-env <name>', 'environment variable holding the judge server key (default OPENAI_API_KEY)')
    .option('--repeats <n>', 'judge queries per presentation order', '3')
    .option('--methods <list>', 'dpo, rdpo or both', 'dpo,rdpo')
    .option('--seed <s>', 'seed of the split, the subsets, training, sampling and the judge', '0')
    .option('--config <file>', 'training settings shared by every run (run.yaml / run.json keys)')
    .option('--lr <x>', 'learning rate of the DPO/RDPO runs')
    .option('--sft-lr <x>', 'learning rate of the SFT run')
    .option('--batch-size <n>', 'pairs per optimiser step')
    .option('--max-steps <n>', 'cap on steps per DPO/RDPO run')
    .option('--sft-max-steps <n>', 'cap on SFT steps')
    .option('--epochs <x>', 'epochs per run')
    .option('--beta <b>', 'β of DPO/RDPO and of the evaluation reward')
    .option('--gamma <g>', 'γ of RDPO')
    .option('--max-length <n>', 'longest training sequence')
    .option('--max-prompt-length <n>', 'longest training prompt')
    .option('--max-new-tokens <n>', 'longest generated response', String(DEFAULT_SAMPLING.maxNewTokens))
    .option('--temperature <t>', 'sampling temperature of the evaluated models', String(DEFAULT_SAMPLING.temperature))
    .option('--top-p <p>', 'nucleus sampling of the evaluated models', String(DEFAULT_SAMPLING.topP))
    .option('--top-k <k>', 'top-k filter (0: none)', '0')
    .option('--dtype <dtype>', 'compute dtype of the training runs, and the weight dtype the evaluated models load in: float32 (f32) | bfloat16 (bf16)')
    .option('--device <device>', 'cpu, cuda, cuda:N or mps')
    .option('--out <dir>', 'where everything goes; rerun with the same --out to resume', 'rdpo-compare');
}

/** The training settings every run of the sweep shares (--config, then the flags), and the SFT run's own. */
function trainSettings(f: CompareFlags, dtype: 'float32' | 'bfloat16' | undefined): { shared: Partial<TrainConfigInput>; sftTrain: Partial<TrainConfigInput> } {
  const shared: Partial<TrainConfigInput> = {
    ...(f.config !== undefined ? (readConfigFile(f.config) as Partial<TrainConfigInput>) : {}),
    ...(f.lr !== undefined ? { lr: realNumber(f.lr, '--lr', 0) } : {}),
    ...(f.batchSize !== undefined ? { batchSize: wholeNumber(f.batchSize, '--batch-size', 1) } : {}),
    ...(f.maxSteps !== undefined ? { maxSteps: wholeNumber(f.maxSteps, '--max-steps', 1) } : {}),
    ...(f.epochs !== undefined ? { epochs: realNumber(f.epochs, '--epochs', 0) } : {}),
    ...(f.beta !== undefined ? { beta: realNumber(f.beta, '--beta', 0) } : {}),
    ...(f.gamma !== undefined ? { gamma: realNumber(f.gamma, '--gamma', 0) } : {}),
    ...(f.maxLength !== undefined ? { maxLength: wholeNumber(f.maxLength, '--max-length', 1) } : {}),
    ...(f.maxPromptLength !== undefined ? { maxPromptLength: wholeNumber(f.maxPromptLength, '--max-prompt-length', 1) } : {}),
    ...(dtype ? { dtype } : {}),
    ...(f.device !== undefined ? { device: f.device } : {}),
  };
  // The sweep decides these per run.
  for (const key of ['model', 'refModel', 'data', 'loss', 'out', 'limit', 'resume'] as const) delete shared[key];
  const sftTrain: Partial<TrainConfigInput> = {
    ...(f.sftLr !== undefined ? { lr: realNumber(f.sftLr, '--sft-lr', 0) } : {}),
    ...(f.sftMaxSteps !== undefined ? { maxSteps: wholeNumber(f.sftMaxSteps, '--sft-max-steps', 1) } : {}),
  };
  return { shared, sftTrain };
}

async function compareAction(f: CompareFlags): Promise<void> {
  const sizes = f.sizes.split(',').map((s) => wholeNumber(s.trim(), '--sizes', 1));
  const methods = f.methods.split(',').map((m) => m.trim());
  for (const m of methods) if (m !== 'dpo' && m !== 'rdpo') throw new UsageError(`--methods takes dpo and/or rdpo, got "${m}"`);
  const seed = wholeNumber(f.seed, '--seed', 0);
  const dtype = dtypeFrom(f.dtype);
  const { shared, sftTrain } = trainSettings(f, dtype);
  const judge = await openJudge(f.judge, {
    ...(f.judgeModel !== undefined ? { judgeModel: f.judgeModel } : {}),
    ...(f.apiKeyEnv !== undefined ? { apiKeyEnv: f.apiKeyEnv } : {}),
    maxNewTokens: wholeNumber(f.judgeMaxTokens, '--judge-max-tokens', 1),
    seed,
    ...(dtype ? { dtype } : {}),
    ...(f.device !== undefined ? { device: f.device } : {}),
  });
  const log = (line: string) => process.stderr.write(line + '\n');
  const interrupts = handleInterrupts(log);
  try {
    const results = await runCompare({
      model: f.model,
      data: f.data,
      sizes,
      evalSize: wholeNumber(f.evalSize, '--eval-size', 1),
      ...(f.prompts !== undefined ? { prompts: f.prompts } : {}),
      ...(f.promptLimit !== undefined ? { promptLimit: wholeNumber(f.promptLimit, '--prompt-limit', 1) } : {}),
      judge,
      repeats: wholeNumber(f.repeats, '--repeats', 1),
      out: f.out,
      seed,
      methods: methods as SweepMethod[],
      train: shared,
      sftTrain,
      ...(shared.beta !== undefined ? { beta: shared.beta } : {}),
      sampling: samplingFrom(f),
      load: { ...(dtype ? { dtype } : {}), ...(f.device !== undefined ? { device: f.device } : {}) },
      trainer: (config, options) => train(config, options ?? {}),
      interruption: interrupts.interruption,
      log,
    });
    console.log(`report: ${join(f.out, 'report.md')} (${results.rows.length} runs, ${results.prompts.count} prompts)`);
  } finally {
    interrupts.dispose();
    await judge.close();
  }
}
