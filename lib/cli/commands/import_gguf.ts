import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { assertOutputNotInput } from '../../util/output_paths.js';
import { parseDtypeOption } from '../dtype_option.js';
import { importGguf } from '../../gguf/import_gguf.js';

interface ImportGgufCliOptions {
  out?: string;
  dtype: string;
  json?: boolean;
}

export function registerImportGguf(program: Command): void {
  program
    .command('import-gguf')
    .description(
      'convert a llama.cpp GGUF (llama, qwen2, qwen3, gemma2, gemma3, phi3; BPE or SentencePiece vocabulary; F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/Q2_K…Q6_K/IQ4_NL/IQ4_XS) into a Hugging Face model directory',
    )
    .argument('<file>', 'the .gguf file')
    .requiredOption('--out <dir>', 'output directory: new, empty, or one import-gguf/merge-lora wrote (then replaced whole when the import succeeds)')
    .option('--dtype <dtype>', 'weight dtype (storage) of the written model: bfloat16 (bf16) | float32 (f32)', 'bf16')
    .option('--json', 'print the report as one JSON object')
    .action(async (file: string, opts: ImportGgufCliOptions) => {
      const dtype = parseDtypeOption(opts.dtype, ['bfloat16', 'float32']) === 'bfloat16' ? 'bf16' : 'f32';
      if (!existsSync(file)) throw new UsageError(`${file}: no such file`);
      assertOutputNotInput({ flag: '--out', path: opts.out }, [{ flag: '<file>', path: file }], { replacesWhole: true });
      // A malformed GGUF or an unsupported tensor type is a usage error (exit_codes.ts).
      const report = await importGguf(file, opts.out!, {
        dtype,
        onTensor: opts.json || !process.stderr.isTTY ? undefined : (done, total) => process.stderr.write(`\rtensors ${done}/${total}`),
      });
      if (!opts.json && process.stderr.isTTY) process.stderr.write('\n');
      if (opts.json) {
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      const types = Object.entries(report.sourceTypes)
        .map(([k, v]) => `${k}×${v}`)
        .join(', ');
      console.log(
        `imported ${file} → ${report.outDir}\n` +
          `  GGUF v${report.ggufVersion}, ${report.architecture} → ${report.modelType}, ${report.tensors} tensors (${types}), ${(report.parameters / 1e6).toFixed(1)}M parameters\n` +
          `  weights ${report.dtype}${report.tiedEmbeddings ? ', tied embeddings' : ''}; ${report.seconds.toFixed(1)} s`,
      );
    });
}
