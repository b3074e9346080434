// The one map from what a command threw to the exit code and the line on stderr. Commands throw
// their domain errors as they are; main.ts turns them into an exit here, so every command agrees.
import { CommanderError } from 'commander';
import { UsageError } from '../errors.js';
import { NativeLoadError } from '../native/load.js';
import { ConfigError } from '../train/config_error.js';
import { HubDownloadError } from '../hub/errors.js';
import { DataParallelSetupError } from '../train/data_parallel.js';
import { DirLockedError } from '../util/dir_lock.js';
import { GgufFormatError } from '../gguf/reader.js';
import { UnsupportedGgmlTypeError } from '../gguf/dequantize.js';
import { PreferenceDataError } from '../data/errors.js';

export const EXIT = {
  /** Anything else that went wrong (a failed pair, a crashed step, invalid rows in `data`). */
  failure: 1,
  /** The user's to fix: a flag, a config key, a file or a name given. */
  usage: 2,
  /** `plan` / `train --dry-run`: the run does not fit in memory. */
  doesNotFit: 3,
  /** Stopped by SIGINT (128 + 2) or SIGTERM (128 + 15). */
  sigint: 130,
  sigterm: 143,
} as const;

/**
 * Domain errors that are the user's to fix: the message says what to change, so it is printed
 * without a stack, exit 2. (`data` reports invalid rows as its verdict, exit 1, on purpose.)
 */
export const USAGE_ERRORS: readonly (abstract new (...args: never[]) => Error)[] = [
  UsageError,
  ConfigError,
  HubDownloadError,
  DataParallelSetupError,
  DirLockedError,
  GgufFormatError,
  UnsupportedGgmlTypeError,
  PreferenceDataError,
];

export function isUsageError(err: unknown): err is Error {
  return USAGE_ERRORS.some((cls) => err instanceof cls);
}

export interface CliExit {
  code: number;
  /** What goes on stderr; commander has already printed its own. */
  message?: string;
  /** The stack, shown with RDPO_DEBUG set, for errors that are not the user's. */
  stack?: string;
}

/** The exit for an error a command threw. */
export function cliExit(err: unknown): CliExit {
  if (err instanceof CommanderError) return { code: err.exitCode };
  if (isUsageError(err)) return { code: EXIT.usage, message: `rdpo-native: ${err.message}` };
  if (err instanceof NativeLoadError) return { code: EXIT.failure, message: `rdpo-native: ${err.message}` };
  const message = `rdpo-native: ${err instanceof Error ? err.message : String(err)}`;
  return { code: EXIT.failure, message, ...(err instanceof Error && err.stack ? { stack: err.stack } : {}) };
}
