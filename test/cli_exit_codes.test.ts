// The one map from what a command threw to the exit code and stderr line (lib/cli/exit_codes.ts).
import test from 'ava';
import { CommanderError } from 'commander';
import { cliExit, EXIT } from '../lib/cli/exit_codes.js';
import { UsageError } from '../lib/errors.js';
import { ConfigError } from '../lib/train/config_error.js';
import { HubDownloadError, HubNameError } from '../lib/hub/errors.js';
import { DataParallelSetupError } from '../lib/train/data_parallel.js';
import { DirLockedError } from '../lib/util/dir_lock.js';
import { GgufFormatError } from '../lib/gguf/reader.js';
import { UnsupportedGgmlTypeError } from '../lib/gguf/dequantize.js';
import { PreferenceDataError } from '../lib/data/errors.js';
import { NativeLoadError } from '../lib/native/load.js';
import { NonFiniteTrainingError } from '../lib/train/trainer.js';

// Constructors differ; only the class matters to the map.
const make = <T extends Error>(cls: new (...args: never[]) => T, message: string): T => {
  const err = Object.create(cls.prototype as object) as T;
  Object.defineProperty(err, 'message', { value: message });
  Object.defineProperty(err, 'stack', { value: `${cls.name}: ${message}\n    at somewhere` });
  return err;
};

const usage: Array<[string, new (...args: never[]) => Error]> = [
  ['UsageError', UsageError],
  ['ConfigError', ConfigError],
  ['HubDownloadError', HubDownloadError],
  ['HubNameError', HubNameError],
  ['DataParallelSetupError', DataParallelSetupError],
  ['DirLockedError', DirLockedError],
  ['GgufFormatError', GgufFormatError],
  ['UnsupportedGgmlTypeError', UnsupportedGgmlTypeError],
  ['PreferenceDataError', PreferenceDataError],
];

for (const [name, cls] of usage) {
  test(`${name} is a usage error: exit 2, "rdpo-native: " and the message, no stack`, (t) => {
    t.deepEqual(cliExit(make(cls, 'fix this')), { code: 2, message: 'rdpo-native: fix this' });
  });
}

test('a missing native addon: exit 1 with its message and no stack', (t) => {
  t.deepEqual(cliExit(make(NativeLoadError, 'no addon')), { code: 1, message: 'rdpo-native: no addon' });
});

test('any other error: exit 1 with its message, the stack kept for RDPO_DEBUG', (t) => {
  const exit = cliExit(make(NonFiniteTrainingError, 'the loss is NaN'));
  t.is(exit.code, 1);
  t.is(exit.message, 'rdpo-native: the loss is NaN');
  t.regex(exit.stack ?? '', /at somewhere/);
  t.deepEqual(cliExit('a string'), { code: 1, message: 'rdpo-native: a string' });
});

test("commander's own errors keep commander's exit code and print nothing more", (t) => {
  t.deepEqual(cliExit(new CommanderError(1, 'commander.unknownOption', 'unknown option')), { code: 1 });
  t.deepEqual(cliExit(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), { code: 0 });
});

test('the named exit codes', (t) => {
  t.deepEqual(EXIT, { failure: 1, usage: 2, doesNotFit: 3, sigint: 130, sigterm: 143 });
});
