// Every CLI command, registered in the order `--help` lists them.
import type { Command } from 'commander';
import { registerData } from './data.js';
import { registerCompare } from './compare.js';
import { registerDoctor } from './doctor.js';
import { registerEval } from './eval.js';
import { registerTrain } from './train.js';

export function registerCommands(program: Command): void {
  registerTrain(program);
  registerData(program);
  registerEval(program);
  registerCompare(program);
  registerDoctor(program);
}
