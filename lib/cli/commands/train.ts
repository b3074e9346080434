import type { Command } from 'commander';
import { UsageError } from '../usage_error.js';

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a model with SFT, DPO or RDPO (no arguments: the built-in demo)')
    .allowUnknownOption(true)
    .action(() => {
      throw new UsageError('`train` is not there yet: the trainer lands with the training issue. `rdpo-native doctor` checks the set-up.');
    });
}
