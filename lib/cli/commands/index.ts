// Every CLI command, registered in the order `--help` lists them.
import type { Command } from 'commander';
import { registerData } from './data.js';
import { registerDoctor } from './doctor.js';
import { registerImportGguf } from './import_gguf.js';
import { registerTrain } from './train.js';

export function registerCommands(program: Command): void {
  registerTrain(program);
  registerData(program);
  registerImportGguf(program);
  registerDoctor(program);
}
