import type { Command } from 'commander';
import { UsageError } from '../usage_error.js';
import { wholeNumberOption } from '../number_options.js';
import { loadPreferences } from '../../data/load.js';
import { PreferenceDataError } from '../../data/errors.js';
import { Tokenizer } from '../../tokenize/tokenizer.js';
import { tokenizePreferences } from '../../tokenize/preference_tokens.js';
import { PROMPT_FORMATS, PromptFormatMismatch, promptFormatFor, type PromptFormatSetting } from '../../tokenize/prompt_format.js';
import { CausalLM, type ModelDtype } from '../../model/causal_lm.js';
import { packSequences } from '../../model/packing.js';
import { writeFileAtomic } from '../../util/atomic_write.js';

interface LogprobsCliOptions {
  model: string;
  data: string;
  out: string;
  batchSize: string;
  promptFormat?: string;
  maxLength?: string;
  maxPromptLength?: string;
  dtype: string;
  device: string;
}

export function registerLogprobs(program: Command): void {
  program
    .command('logprobs')
    .description("score each preference pair: summed log-probs of the chosen and rejected completions (EOS included), TRL's tokenization")
    .requiredOption('--model <dir>', 'model directory (config.json, safetensors, tokenizer.json)')
    .requiredOption('--data <file>', 'preference pairs (any format `rdpo-native data` reads; e.g. JSONL rows {prompt, chosen, rejected})')
    .requiredOption('--out <file>', 'output JSONL, one row per input pair')
    .option('--batch-size <n>', 'pairs per forward pass', '8')
    .option('--prompt-format <f>', 'auto (the format the model was trained with, else chat when it has a chat template) | chat (text prompts as a user turn) | plain (TRL: text prompts as text)')
    .option('--max-length <n>', 'truncate prompt + completion to this many tokens')
    .option('--max-prompt-length <n>', 'with --max-length: cut over-long prompts to this many tokens first (keeping their end)')
    .option('--dtype <dtype>', 'float32, bfloat16 or float16', 'float32')
    .option('--device <device>', 'cpu, cuda, cuda:N or mps', 'cpu')
    .action(async (opts: LogprobsCliOptions) => {
      const batchSize = wholeNumberOption(opts.batchSize, '--batch-size', 1);
      if (opts.promptFormat !== undefined && !(PROMPT_FORMATS as readonly string[]).includes(opts.promptFormat)) throw new UsageError(`--prompt-format must be ${PROMPT_FORMATS.join(', ')}, got "${opts.promptFormat}"`);
      if (!['float32', 'bfloat16', 'float16'].includes(opts.dtype)) throw new UsageError(`--dtype must be float32, bfloat16 or float16, got "${opts.dtype}"`);
      let pairs;
      try {
        pairs = (await loadPreferences(opts.data)).pairs;
      } catch (err) {
        if (err instanceof PreferenceDataError) throw new UsageError(err.message);
        throw err;
      }
      const tokenizer = Tokenizer.load(opts.model);
      let format;
      try {
        format = promptFormatFor(opts.model, tokenizer, (opts.promptFormat ?? 'auto') as PromptFormatSetting);
      } catch (err) {
        if (err instanceof PromptFormatMismatch) throw new UsageError(err.message);
        throw err;
      }
      const tokenized = tokenizePreferences(tokenizer, pairs, {
        format,
        ...(opts.maxLength !== undefined ? { maxLength: wholeNumberOption(opts.maxLength, '--max-length', 2) } : {}),
        ...(opts.maxPromptLength !== undefined ? { maxPromptLength: wholeNumberOption(opts.maxPromptLength, '--max-prompt-length', 1) } : {}),
      });
      const empty = tokenized.pairs.find((p) => p.promptIds.length === 0);
      if (empty) throw new UsageError(`${opts.data}: pair ${pairs[empty.index]!.id} has an empty prompt after tokenization; a completion needs at least one prompt token to be scored`);
      const model = await CausalLM.load(opts.model, { dtype: opts.dtype as ModelDtype, device: opts.device });
      // One output row per input pair, in input order; pairs left out by --max-length say so.
      const rows: Record<string, unknown>[] = pairs.map((p) => ({ id: p.id, skipped: 'longer than --max-length' }));
      try {
        for (let start = 0; start < tokenized.pairs.length; start += batchSize) {
          const batch = tokenized.pairs.slice(start, start + batchSize);
          const packed = packSequences(batch.map((p) => ({ prompt: p.promptIds, completions: [p.chosenIds, p.rejectedIds] })));
          const lp = await model.sequenceLogprobs(packed);
          batch.forEach((p, i) => {
            rows[p.index] = {
              id: pairs[p.index]!.id,
              chosen_logp: lp.sum[2 * i],
              rejected_logp: lp.sum[2 * i + 1],
              chosen_tokens: p.chosenIds.length,
              rejected_tokens: p.rejectedIds.length,
              prompt_tokens: p.promptIds.length,
            };
          });
          process.stderr.write(`scored ${Math.min(start + batchSize, tokenized.pairs.length)}/${tokenized.pairs.length}\n`);
        }
      } finally {
        model.dispose();
      }
      writeFileAtomic(opts.out, rows.map((r) => JSON.stringify(r) + '\n').join(''));
    });
}
