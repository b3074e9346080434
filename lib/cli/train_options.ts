// The training configuration's flags, generated from the schema's flag table (train/config.ts:
// TRAIN_CONFIG_FLAGS): one option per key, its default from the schema shown in `--help`, and the
// way back from the parsed flags to configuration keys. `train` and `plan` (= `train --dry-run`)
// take them.
import { type Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { schemaDefault, TRAIN_CONFIG_FLAGS, type ConfigKeyFlag, type TrainConfigKey } from '../train/config.js';
import { canonicalDtype } from './dtype_option.js';

const TRAIN_CONFIG_KEYS = Object.keys(TRAIN_CONFIG_FLAGS) as TrainConfigKey[];

/** `batchSize` → `--batch-size`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
}

/** What `--help` says of a key's default: `(default: 5e-7)`, `(default: off)` for a switch; empty where the schema has none. */
export function defaultHelp(key: TrainConfigKey): string {
  const value = schemaDefault(key);
  if (value === undefined) return '';
  // A switch is off unless given; a negated switch (--no-ref-cache) names the key it turns off.
  if (typeof value === 'boolean') return TRAIN_CONFIG_FLAGS[key].kind === 'negated-switch' ? `(default: ${key} ${String(value)})` : '(default: off)';
  return `(default: ${String(value)})`;
}

function optionFor(key: TrainConfigKey, spec: ConfigKeyFlag): Option {
  const flags = spec.kind === 'negated-switch' ? `--no-${flagName(key).slice(2)}` : flagName(key);
  const value = spec.value !== undefined ? ` <${spec.value}>` : '';
  const shown = defaultHelp(key);
  // No commander default: a key set in --config must win over the schema's default.
  return new Option(`${flags}${value}`, shown ? `${spec.help} ${shown}` : spec.help);
}

/** Adds one option per configuration key, in the flag table's order. */
export function addTrainConfigOptions(cmd: Command): Command {
  for (const key of TRAIN_CONFIG_KEYS) cmd.addOption(optionFor(key, TRAIN_CONFIG_FLAGS[key]));
  return cmd;
}

function number(key: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flagName(key)} must be a number, got "${text}"`);
  return n;
}

function flagValue(key: TrainConfigKey, raw: unknown): unknown {
  switch (TRAIN_CONFIG_FLAGS[key].kind) {
    case 'number':
      return number(key, String(raw));
    case 'dtype':
      return canonicalDtype(String(raw));
    case 'list': {
      const list = String(raw)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      return list.length === 1 ? list[0] : list;
    }
    default:
      return raw;
  }
}

/** The configuration keys given on the command line (flags left out stay unset, so --config and the schema fill them). */
export function configInputFromFlags(cmd: Command): Record<string, unknown> {
  const opts = cmd.opts<Record<string, unknown>>();
  const input: Record<string, unknown> = {};
  for (const key of TRAIN_CONFIG_KEYS) if (cmd.getOptionValueSource(key) === 'cli') input[key] = flagValue(key, opts[key]);
  return input;
}
