// The train flags are generated from the configuration schema's flag table: `train --help` shows
// every schema default, and every flag reads back as its schema key.
import test from 'ava';
import { Command } from 'commander';
import { ensureDist } from './helpers/ensure_dist.js';
import { runCli } from './helpers/cli.js';
import { schemaDefault, TRAIN_CONFIG_FLAGS, TrainConfigSchema, type TrainConfigKey } from '../lib/train/config.js';
import { addTrainConfigOptions, configInputFromFlags, defaultHelp, flagName } from '../lib/cli/train_options.js';

const KEYS = Object.keys(TRAIN_CONFIG_FLAGS) as TrainConfigKey[];

/** The option entries of a commander help text: flag → its description, wrapped lines joined. */
function helpEntries(help: string): Map<string, string> {
  const entries = new Map<string, string>();
  let current: string | undefined;
  for (const line of help.split('\n')) {
    const start = /^ {2}(--[a-z0-9-]+)(?: <[^>]+>)?\s+(.*)$/.exec(line);
    if (start) {
      current = start[1]!;
      entries.set(current, start[2]!);
    } else if (current !== undefined && /^ {3,}\S/.test(line)) {
      entries.set(current, `${entries.get(current)!} ${line.trim()}`);
    } else {
      current = undefined;
    }
  }
  return entries;
}

test('every schema key has a flag, and the flag table names no key the schema lacks', (t) => {
  t.deepEqual([...KEYS].sort(), Object.keys(TrainConfigSchema.shape).sort());
});

test('train --help shows every schema default', async (t) => {
  ensureDist();
  const r = await runCli(['train', '--help'], { env: { COLUMNS: '100' } });
  t.is(r.code, 0, r.stderr);
  const entries = helpEntries(r.stdout);
  let withDefault = 0;
  for (const key of KEYS) {
    const flag = TRAIN_CONFIG_FLAGS[key].kind === 'negated-switch' ? `--no-${flagName(key).slice(2)}` : flagName(key);
    const text = entries.get(flag);
    if (text === undefined) {
      t.fail(`${flag} (${key}) is not in train --help`);
      continue;
    }
    const value = schemaDefault(key);
    if (value === undefined) continue;
    withDefault++;
    const shown = typeof value === 'boolean' ? defaultHelp(key) : `(default: ${String(value)})`;
    t.true(text.replace(/\s+/g, ' ').includes(shown), `${flag}: "${text}" does not show ${shown}`);
  }
  // lr, batchSize, loss, dtype, …: a table that lost its defaults would pass the loop above vacuously.
  t.true(withDefault >= 25, `only ${withDefault} keys with a default`);
  t.regex(entries.get('--lr') ?? '', /\(default: 5e-7\)/);
});

/** A value for a key's flag, and what the configuration key must read back. */
function sample(key: TrainConfigKey): { argv: string[]; expected: unknown } {
  const spec = TRAIN_CONFIG_FLAGS[key];
  switch (spec.kind) {
    case 'number':
      return { argv: [flagName(key), '3'], expected: 3 };
    case 'switch':
      return { argv: [flagName(key)], expected: true };
    case 'negated-switch':
      return { argv: [`--no-${flagName(key).slice(2)}`], expected: false };
    case 'list':
      return { argv: [flagName(key), 'none, tensorboard'], expected: ['none', 'tensorboard'] };
    case 'dtype':
      return { argv: [flagName(key), 'bf16'], expected: 'bfloat16' };
    default:
      return { argv: [flagName(key), `value-of-${key}`], expected: `value-of-${key}` };
  }
}

function parsedInput(argv: string[]): Record<string, unknown> {
  const cmd = addTrainConfigOptions(new Command('train').exitOverride()).action(() => {});
  cmd.parse(argv, { from: 'user' });
  return configInputFromFlags(cmd);
}

for (const key of KEYS) {
  test(`${key}: its flag reads back as the key`, (t) => {
    const { argv, expected } = sample(key);
    t.deepEqual(parsedInput(argv), { [key]: expected }, argv.join(' '));
  });
}

test('flags left out stay unset, so --config and the schema fill them', (t) => {
  t.deepEqual(parsedInput([]), {});
});

test('a number flag with text is a usage error naming the flag; one list item stays a string', (t) => {
  t.throws(() => parsedInput(['--beta', 'abc']), { name: 'UsageError', message: '--beta must be a number, got "abc"' });
  t.deepEqual(parsedInput(['--report-to', 'tensorboard']), { reportTo: 'tensorboard' });
  t.deepEqual(parsedInput(['--dtype', 'float64']), { dtype: 'float64' }, 'an unknown dtype is left for the schema to refuse');
});
