// `rdpo-native merge-lora`: base model + LoRA adapter → a plain Hugging Face model directory
// (config.json, model.safetensors, tokenizer files) with W + (alpha/r)·B·A in every adapted layer.
// The adapter is checked first (r, alpha, finite tensors); the merged weights are checked for NaN
// and inf; the directory is built under a temporary name and renamed into place, whole or not at all.
import type { Command } from 'commander';
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { dtypeChoices, WEIGHT_DTYPES, weightDtypeOption } from '../dtype_option.js';
import { resolveModel } from '../../hub/resolve_model.js';
import { CausalLM, type ModelDtype } from '../../model/causal_lm.js';
import { adapterBaseModel, adapterDefect, checkpointDtype, isAdapterDir, loadAdapter, mergeAdapter } from '../../model/lora.js';
import { firstNonFiniteTensor } from '../../model/safetensors_finite.js';
import { writeDirAtomic } from '../../util/atomic_write.js';
import { assertReplaceableDir, outputMarkerKind, writeOutputMarker } from '../../util/output_marker.js';
import { assertOutputNotInput } from '../../util/output_paths.js';

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
    .option(
      '--dtype <dtype>',
      `weight dtype (storage) of the written model: ${dtypeChoices(WEIGHT_DTYPES)} (default: the base checkpoint's)`,
      weightDtypeOption,
    )
    .option('--device <device>', 'cpu, cuda, cuda:N or mps (where the merge is computed)', 'cpu')
    .action(async (opts: MergeLoraOptions) => {
      if (!isAdapterDir(opts.adapter)) throw new UsageError(`--adapter ${opts.adapter}: adapter_config.json is missing (is it a LoRA adapter directory?)`);
      const defect = adapterDefect(opts.adapter);
      if (defect) throw new UsageError(`--adapter ${opts.adapter}: ${defect}; nothing was merged`);
      const baseSpec = opts.model ?? adapterBaseModel(opts.adapter);
      if (baseSpec === undefined) throw new UsageError(`${opts.adapter}/adapter_config.json names no base_model_name_or_path; give --model BASE`);
      const baseDir = await resolveModel(baseSpec);
      if (!existsSync(path.join(baseDir, 'config.json'))) throw new UsageError(`--model ${baseSpec}: no config.json there (the base model directory)`);
      const dtype = (opts.dtype ?? checkpointDtype(baseDir)) as ModelDtype;
      // Replaced whole: never an input, and only an empty directory or a model this tool wrote.
      assertOutputNotInput(
        { flag: '--out', path: opts.out },
        [
          { flag: '--model', path: baseDir },
          { flag: '--adapter', path: opts.adapter },
        ],
        { replacesWhole: true },
      );
      assertReplaceableDir(opts.out, '--out', 'model directory', (d) => outputMarkerKind(d) === 'model');
      // float32 for the sum W + s·B·A, then written in `dtype`.
      const model = await CausalLM.load(baseDir, { dtype: 'float32', device: opts.device });
      try {
        try {
          await loadAdapter(model, opts.adapter);
        } catch (err) {
          throw new UsageError(`--adapter ${opts.adapter}: ${(err as Error).message}`);
        }
        await mergeAdapter(model);
        await writeDirAtomic(opts.out, async (tmp) => {
          await model.save(tmp, { dtype });
          const bad = firstNonFiniteTensor(path.join(tmp, 'model.safetensors'));
          if (bad) {
            throw new UsageError(
              `merging ${opts.adapter} gives NaN or infinite weights (${bad.tensor}, element ${bad.index}); nothing was written to ${opts.out}. ` +
                "Check the adapter's lora_alpha / r and its tensors.",
            );
          }
          // The prompt format a LoRA run recorded travels with the merged model (eval/generate read it).
          const state = path.join(opts.adapter, 'trainer_state.json');
          if (existsSync(state)) copyFileSync(state, path.join(tmp, 'trainer_state.json'));
          writeOutputMarker(tmp, 'model', 'merge-lora');
        });
      } finally {
        model.dispose();
      }
      console.log(`merged ${opts.adapter} into ${baseDir}: ${path.resolve(opts.out)} (${dtype})`);
    });
}
