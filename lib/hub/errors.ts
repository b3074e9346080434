// The hub's errors: the CLI shows them as usage errors (exit 2), without a stack.

/** A model could not be fetched from the hub or found in its cache. */
export class HubDownloadError extends Error {
  override name = 'HubDownloadError';
}

/** A name from the hub (or a `--model …@REV`) that would not stay inside the cache, or a file whose bytes are not the ones named. */
export class HubNameError extends HubDownloadError {
  override name = 'HubNameError';
}
