// Every CLI command, registered in the order `--help` lists them.
import type { Command } from 'commander';
import { registerData } from './data.js';
import { registerDoctor } from './doctor.js';
import { registerGenerate } from './generate.js';
import { registerImportGguf } from './import_gguf.js';
import { registerLogprobs } from './logprobs.js';
import { registerRationales } from './rationales.js';
import { registerServe } from './serve.js';
import { registerTrain } from './train.js';

export function registerCommands(program: Command): void {
  registerTrain(program);
  registerData(program);
  registerImportGguf(program);
  registerLogprobs(program);
  registerGenerate(program);
  registerRationales(program);
  registerServe(program);
  registerDoctor(program);
}
