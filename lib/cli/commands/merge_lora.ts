// `rdpo-native merge-lora`: base model + LoRA adapter → a plain Hugging Face model directory
// (config.json, model.safetensors, tokenizer files) with W + (alpha/r)·B·A in every adapted layer.
import type { Command } from 'commander';
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { resolveModel } from '../../hub/resolve_model.js';
import { CausalLM, type ModelDtype } from '../../model/causal_lm.js';
import { adapterBaseModel, checkpointDtype, isAdapterDir, loadAdapter, mergeAdapter } from '../../model/lora.js';

interface MergeLoraOptions {
  model?: string;
  adapter: string;
  out: string;
  dtype?: string;
  device: string;
}

export function registerMergeLora(program: Command): void {
  program
    .command('merge-lora')
    .description('merge a LoRA adapter (PEFT format) into its base model and write a full Hugging Face model')
    .option('--model <dir|org/name[@rev]>', "the base model (default: the adapter's base_model_name_or_path)")
    .requiredOption('--adapter <dir>', 'adapter directory (adapter_config.json, adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'where the merged model goes')
    .option('--dtype <dtype>', "dtype of the written weights: float32, bfloat16 or float16 (default: the base checkpoint's)")
    .option('--device <device>', 'cpu, cuda, cuda:N or mps (where the merge is computed)', 'cpu')
    .action(async (opts: MergeLoraOptions) => {
      if (!isAdapterDir(opts.adapter)) throw new UsageError(`--adapter ${opts.adapter}: adapter_config.json is missing (is it a LoRA adapter directory?)`);
      const baseSpec = opts.model ?? adapterBaseModel(opts.adapter);
      if (baseSpec === undefined) throw new UsageError(`${opts.adapter}/adapter_config.json names no base_model_name_or_path; give --model BASE`);
      const baseDir = await resolveModel(baseSpec);
      if (!existsSync(path.join(baseDir, 'config.json'))) throw new UsageError(`--model ${baseSpec}: no config.json there (the base model directory)`);
      if (opts.dtype !== undefined && !['float32', 'bfloat16', 'float16'].includes(opts.dtype)) {
        throw new UsageError(`--dtype must be float32, bfloat16 or float16, got "${opts.dtype}"`);
      }
      const dtype = (opts.dtype ?? checkpointDtype(baseDir)) as ModelDtype;
      if (path.resolve(opts.out) === path.resolve(baseDir)) throw new UsageError('--out must not be the base model directory');
      // float32 for the sum W + s·B·A, then written in `dtype`.
      const model = await CausalLM.load(baseDir, { dtype: 'float32', device: opts.device });
      try {
        try {
          await loadAdapter(model, opts.adapter);
        } catch (err) {
          throw new UsageError(`--adapter ${opts.adapter}: ${(err as Error).message}`);
        }
        await mergeAdapter(model);
        await model.save(opts.out, { dtype });
      } finally {
        model.dispose();
      }
      // The prompt format a LoRA run recorded travels with the merged model (eval/generate read it).
      const state = path.join(opts.adapter, 'trainer_state.json');
      if (existsSync(state)) copyFileSync(state, path.join(opts.out, 'trainer_state.json'));
      console.log(`merged ${opts.adapter} into ${baseDir}: ${path.resolve(opts.out)} (${dtype})`);
    });
}
