// A training configuration that cannot be used: the message names each bad key and what is allowed.
export class ConfigError extends Error {
  override name = 'ConfigError';
}
