// Every CLI command, registered in the order `--help` lists them.
import type { Command } from 'commander';
import { registerDoctor } from './doctor.js';
import { registerTrain } from './train.js';

export function registerCommands(program: Command): void {
  registerTrain(program);
  registerDoctor(program);
}
