// Errors of the data layer: a whole file that cannot be used, and one row that cannot.

/** A preference file that cannot be loaded as asked; the message names the file and the fix. */
export class PreferenceDataError extends Error {
  override name = 'PreferenceDataError';
  constructor(
    message: string,
    readonly details?: { file: string; report?: unknown },
  ) {
    super(message);
  }
}

/** One row that fails validation. Thrown by format converters, caught and counted by the loader. */
export class RowError extends Error {
  override name = 'RowError';
}
