// Every CLI command, registered in the order `--help` lists them.
import type { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerCompare } from './compare.js';
import { registerData } from './data.js';
import { registerDoctor } from './doctor.js';
import { registerEval } from './eval.js';
import { registerGenerate } from './generate.js';
import { registerImportGguf } from './import_gguf.js';
import { registerLogprobs } from './logprobs.js';
import { registerMergeLora } from './merge_lora.js';
import { registerRationales } from './rationales.js';
import { registerReport } from './report.js';
import { registerServe } from './serve.js';
import { registerPlan, registerTrain } from './train.js';
import { resolveModelOptions } from '../model_options.js';

export function registerCommands(program: Command): void {
  program.hook('preAction', resolveModelOptions);
  registerTrain(program);
  registerPlan(program);
  registerData(program);
  registerRationales(program);
  registerEval(program);
  registerCompare(program);
  registerReport(program);
  registerImportGguf(program);
  registerLogprobs(program);
  registerGenerate(program);
  registerServe(program);
  registerMergeLora(program);
  registerBench(program);
  registerDoctor(program);
}
