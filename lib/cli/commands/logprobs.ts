import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { wholeNumberOption } from '../number_options.js';
import { loadPreferences } from '../../data/load.js';
import { PreferenceDataError } from '../../data/errors.js';
import { Tokenizer } from '../../tokenize/tokenizer.js';
import { tokenizePreferences, warnToStderr } from '../../tokenize/preference_tokens.js';
import { PROMPT_FORMATS, promptFormatFor, type PromptFormatSetting } from '../../tokenize/prompt_format.js';
import type { ModelDtype } from '../../model/causal_lm.js';
import { loadModelWithAdapter } from '../../model/lora.js';
import { pairLogprobs } from '../../inference/pair_logprobs.js';
import { JsonlAppender } from '../../util/jsonl_append.js';
import { assertOutputNotInput } from '../../util/output_paths.js';

interface LogprobsCliOptions {
  model: string;
  adapter?: string;
  data: string;
  out: string;
  batchSize: string;
  promptFormat?: string;
  maxLength?: string;
  maxPromptLength?: string;
  maxRowBytes: string;
  dtype: string;
  device: string;
}

export function registerLogprobs(program: Command): void {
  program
    .command('logprobs')
    .description("score each preference pair: summed log-probs of the chosen and rejected completions (EOS included), TRL's tokenization")
    .requiredOption('--model <dir|org/name[@rev]>', 'model directory (config.json, safetensors, tokenizer.json)')
    .requiredOption('--data <file>', 'preference pairs (any format `rdpo-native data` reads; e.g. JSONL rows {prompt, chosen, rejected})')
    .requiredOption('--out <file>', 'output JSONL, one row per input pair')
    .option('--batch-size <n>', 'pairs per forward pass', '8')
    .option(
      '--prompt-format <f>',
      'auto (the format the model was trained with, else chat when it has a chat template) | chat (text prompts as a user turn) | plain (TRL: text prompts as text)',
    )
    .option('--max-length <n>', 'truncate prompt + completion to this many tokens')
    .option('--max-prompt-length <n>', 'with --max-length: cut over-long prompts to this many tokens first (keeping their end)')
    .option('--max-row-bytes <n>', 'rows larger than this (as JSON) are reported, not tokenized', String(1 << 20))
    .option('--dtype <dtype>', 'float32, bfloat16 or float16', 'float32')
    .option('--device <device>', 'cpu, cuda, cuda:N or mps', 'cpu')
    .option('--adapter <dir>', "a LoRA adapter (PEFT format, e.g. a LoRA run's final/) on --model")
    .action(async (opts: LogprobsCliOptions) => {
      const batchSize = wholeNumberOption(opts.batchSize, '--batch-size', 1);
      const maxRowBytes = wholeNumberOption(opts.maxRowBytes, '--max-row-bytes', 1);
      if (opts.promptFormat !== undefined && !(PROMPT_FORMATS as readonly string[]).includes(opts.promptFormat))
        throw new UsageError(`--prompt-format must be ${PROMPT_FORMATS.join(', ')}, got "${opts.promptFormat}"`);
      if (!['float32', 'bfloat16', 'float16'].includes(opts.dtype)) throw new UsageError(`--dtype must be float32, bfloat16 or float16, got "${opts.dtype}"`);
      assertOutputNotInput({ flag: '--out', path: opts.out }, [
        { flag: '--data', path: opts.data },
        { flag: '--model', path: opts.model },
        { flag: '--adapter', path: opts.adapter },
      ]);
      let pairs;
      try {
        pairs = (await loadPreferences(opts.data)).pairs;
      } catch (err) {
        if (err instanceof PreferenceDataError) throw new UsageError(err.message);
        throw err;
      }
      const tokenizer = Tokenizer.load(opts.model);
      const format = promptFormatFor(opts.adapter ?? opts.model, tokenizer, (opts.promptFormat ?? 'auto') as PromptFormatSetting);
      const tokenizeOpts = {
        format,
        ...(opts.maxLength !== undefined ? { maxLength: wholeNumberOption(opts.maxLength, '--max-length', 2) } : {}),
        ...(opts.maxPromptLength !== undefined ? { maxPromptLength: wholeNumberOption(opts.maxPromptLength, '--max-prompt-length', 1) } : {}),
      };
      const model = await loadModelWithAdapter(opts.model, opts.adapter, { dtype: opts.dtype as ModelDtype, device: opts.device });
      // Rows are tokenized, scored and written one batch at a time (in input order), so memory
      // follows the batch, not the file, and a crash leaves the rows scored so far. A row over
      // --max-row-bytes is reported in its output row and never tokenized.
      mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
      const out = new JsonlAppender(opts.out, { truncate: true });
      const totals = { truncated: 0, promptNotPrefix: 0, nonFinite: 0, oversized: 0 };
      try {
        for (let start = 0; start < pairs.length; start += batchSize) {
          const slice = pairs.slice(start, start + batchSize);
          const rows: Record<string, unknown>[] = slice.map((p) => ({ id: p.id, skipped: 'longer than --max-length' }));
          const fits = slice
            .map((p, i) => ({ p, i, bytes: Buffer.byteLength(JSON.stringify(p)) }))
            .filter(({ p, i, bytes }) => {
              if (bytes <= maxRowBytes) return true;
              totals.oversized++;
              rows[i] = { id: p.id, error: `row is ${bytes} bytes, over --max-row-bytes ${maxRowBytes}; not scored` };
              return false;
            });
          const tokenized = tokenizePreferences(
            tokenizer,
            fits.map((f) => f.p),
            { ...tokenizeOpts, warn: () => {} },
          );
          totals.truncated += tokenized.stats.truncated;
          totals.promptNotPrefix += tokenized.stats.promptNotPrefix;
          const batch = tokenized.pairs.map((p) => ({ ...p, at: fits[p.index]!.i }));
          const empty = batch.find((p) => p.promptIds.length === 0);
          if (empty)
            throw new UsageError(
              `${opts.data}: pair ${slice[empty.at]!.id} has an empty prompt after tokenization; a completion needs at least one prompt token to be scored`,
            );
          if (batch.length > 0) {
            const scores = await pairLogprobs(model, batch);
            batch.forEach((p, i) => {
              const { chosen, rejected } = scores[i]!;
              const counts = { chosen_tokens: p.chosenIds.length, rejected_tokens: p.rejectedIds.length, prompt_tokens: p.promptIds.length };
              if (!Number.isFinite(chosen) || !Number.isFinite(rejected)) {
                // JSON has no NaN: writing the number would turn it into null, read later as "no score".
                totals.nonFinite++;
                rows[p.at] = {
                  id: slice[p.at]!.id,
                  error: `non-finite log-prob (chosen ${chosen}, rejected ${rejected}): the model's outputs overflow or its weights hold NaN/inf`,
                  ...counts,
                };
              } else {
                rows[p.at] = { id: slice[p.at]!.id, chosen_logp: chosen, rejected_logp: rejected, ...counts };
              }
            });
          }
          for (const row of rows) out.append(row);
          process.stderr.write(`scored ${Math.min(start + batchSize, pairs.length)}/${pairs.length}\n`);
        }
      } finally {
        out.close();
        model.dispose();
      }
      if (totals.truncated > 0) warnToStderr(`${totals.truncated} of ${pairs.length} rows were truncated to --max-length ${opts.maxLength}`);
      if (totals.promptNotPrefix > 0)
        warnToStderr(
          `${totals.promptNotPrefix} of ${pairs.length} rows: the prompt's tokens are not a prefix of prompt+completion; each completion starts where they diverge`,
        );
      const failed = totals.nonFinite + totals.oversized;
      if (failed > 0) {
        const what = [
          totals.nonFinite ? `${totals.nonFinite} with a non-finite log-prob` : '',
          totals.oversized ? `${totals.oversized} over --max-row-bytes` : '',
        ]
          .filter(Boolean)
          .join(', ');
        throw new Error(`${failed} of ${pairs.length} rows were not scored (${what}); their rows in ${opts.out} carry "error"`);
      }
    });
}
