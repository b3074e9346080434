// `rdpo-native` command line. Each command lives in cli/commands/<name>.ts.
import { Command } from 'commander';
import { packageVersion } from '../native/runtime.js';
import { registerCommands } from './commands/index.js';
import { cliExit } from './exit_codes.js';

const program = new Command('rdpo-native')
  .description('Preference alignment with rationales (RDPO) on a LibTorch core')
  .version(packageVersion())
  .showHelpAfterError(false)
  .exitOverride();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const exit = cliExit(err);
  if (exit.message !== undefined) console.error(exit.message);
  if (exit.stack !== undefined && process.env.RDPO_DEBUG) console.error(exit.stack);
  process.exitCode = exit.code;
}
