// Errors shared across the package (the CLI maps them to exit codes in cli/main.ts).

/** A mistake in what the user asked for: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
