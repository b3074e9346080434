import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { assertOutputNotInput } from '../../util/output_paths.js';
import { realNumberOption, wholeNumberOption } from '../number_options.js';
import { readPromptFile } from '../../inference/prompt_file.js';
import { generateRows, generationKey } from '../../inference/generation.js';
import { TextGenerator, type SamplingSettings } from '../../inference/text_generator.js';
import { PreferenceDataError } from '../../data/errors.js';
import { PROMPT_FORMATS, promptFormatFor, type PromptFormatSetting } from '../../tokenize/prompt_format.js';
import { JsonlAppender } from '../../util/jsonl_append.js';

interface GenerateCliOptions {
  model: string;
  adapter?: string;
  prompts: string;
  out: string;
  maxNewTokens: string;
  temperature: string;
  topP: string;
  topK: string;
  seed: string;
  batchSize: string;
  stop: string[];
  dtype: string;
  device: string;
  promptFormat: string;
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('generate answers for a prompt file (JSONL with prompt, messages, or MT-Bench/Vicuna turns — the first turn)')
    .requiredOption('--model <dir|org/name[@rev]>', 'model directory (config.json, safetensors, tokenizer.json)')
    .requiredOption('--prompts <file>', 'JSONL/JSON prompts')
    .requiredOption('--out <file>', 'output JSONL, one row per prompt (id, prompt, response, tokens, finishReason, stoppedBy), written as each batch finishes')
    .option('--max-new-tokens <n>', 'most tokens generated per prompt', '256')
    .option('--temperature <t>', 'sampling temperature; 0 = greedy', '0')
    .option('--top-p <p>', 'nucleus sampling mass', '1')
    .option('--top-k <k>', 'sample from the k most likely tokens; 0 = all', '0')
    .option('--seed <n>', 'sampling seed: the prompt at index i samples with seed + i, in a generate call of its own', '0')
    .option('--batch-size <n>', 'prompts per generate call (greedy decoding; a sampled prompt runs alone)', '8')
    .option('--stop <text...>', 'cut the output before the first of these strings (generation itself stops at EOS)', [])
    .option('--dtype <dtype>', 'float32, bfloat16 or float16', 'float32')
    .option('--device <device>', 'cpu, cuda, cuda:N or mps', 'cpu')
    .option('--adapter <dir>', "a LoRA adapter (PEFT format, e.g. a LoRA run's final/) on --model")
    .option('--prompt-format <f>', 'auto (the format the model was trained with, else chat when it has a chat template) | chat | plain', 'auto')
    .action(async (opts: GenerateCliOptions) => {
      if (!(PROMPT_FORMATS as readonly string[]).includes(opts.promptFormat))
        throw new UsageError(`--prompt-format must be ${PROMPT_FORMATS.join(', ')}, got "${opts.promptFormat}"`);
      const gen: SamplingSettings = {
        maxNewTokens: wholeNumberOption(opts.maxNewTokens, '--max-new-tokens', 1),
        temperature: realNumberOption(opts.temperature, '--temperature', 0),
        topP: realNumberOption(opts.topP, '--top-p', 0, 1),
        topK: wholeNumberOption(opts.topK, '--top-k', 0),
      };
      const seed = wholeNumberOption(opts.seed, '--seed', 0);
      const batchSize = wholeNumberOption(opts.batchSize, '--batch-size', 1);
      if (!['float32', 'bfloat16', 'float16'].includes(opts.dtype)) throw new UsageError(`--dtype must be float32, bfloat16 or float16, got "${opts.dtype}"`);
      assertOutputNotInput({ flag: '--out', path: opts.out }, [
        { flag: '--prompts', path: opts.prompts },
        { flag: '--model', path: opts.model },
        { flag: '--adapter', path: opts.adapter },
      ]);
      let prompts;
      try {
        prompts = await readPromptFile(opts.prompts);
      } catch (err) {
        if (err instanceof PreferenceDataError) throw new UsageError(err.message);
        throw err;
      }
      const generator = await TextGenerator.load(opts.model, {
        dtype: opts.dtype,
        device: opts.device,
        ...(opts.adapter !== undefined ? { adapter: opts.adapter } : {}),
      });
      let out: JsonlAppender | undefined;
      try {
        const format = promptFormatFor(opts.adapter ?? opts.model, generator.tokenizer, opts.promptFormat as PromptFormatSetting);
        const sampling = { ...gen, seed };
        const indexed = prompts.map((p, index) => {
          // Ids as eval reads prompt files (id, question_id, else the row number), so eval can read this file.
          const rawId = p.keys.id ?? p.keys.question_id;
          const item = { id: typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : `row-${index + 1}`, prompt: p.prompt };
          return { item, index, key: generationKey(generator.model.dir, item, sampling, format) };
        });
        writeFileSync(opts.out, '');
        out = new JsonlAppender(opts.out);
        await generateRows(generator, indexed, {
          sampling,
          promptFormat: format,
          batchSize,
          stop: opts.stop,
          onRows: (rows, done) => {
            // The prompt file's identifying fields (question_id, category) travel with each row.
            rows.forEach((row, i) => out!.append({ ...prompts[done - rows.length + i]!.keys, ...row }));
            process.stderr.write(`generated ${done}/${prompts.length}\n`);
          },
        });
      } finally {
        out?.close();
        await generator.dispose();
      }
    });
}
