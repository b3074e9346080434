// `rdpo-native` command line. Each command lives in cli/commands/<name>.ts.
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../native/runtime.js';
import { NativeLoadError } from '../native/load.js';
import { registerCommands } from './commands/index.js';
import { UsageError } from '../errors.js';

const program = new Command('rdpo-native')
  .description('Preference alignment with rationales (RDPO) on a LibTorch core')
  .version(packageVersion())
  .showHelpAfterError(false)
  .exitOverride();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else if (err instanceof NativeLoadError || err instanceof UsageError) {
    console.error(`rdpo-native: ${err.message}`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  } else {
    console.error(`rdpo-native: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.RDPO_DEBUG && err instanceof Error) console.error(err.stack);
    process.exitCode = 1;
  }
}
