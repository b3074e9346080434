// `--dtype` reads the same spellings in every command (lib/cli/dtype_option.ts).
import test from 'ava';
import { canonicalDtype, dtypeChoices, parseDtypeOption } from '../lib/cli/dtype_option.js';

test('short and full spellings read as the full names', (t) => {
  for (const [given, name] of [
    ['bf16', 'bfloat16'],
    ['bfloat16', 'bfloat16'],
    ['BF16', 'bfloat16'],
    ['f32', 'float32'],
    ['float32', 'float32'],
    ['f16', 'float16'],
    ['float16', 'float16'],
    ['auto', 'auto'],
  ] as const) {
    t.is(parseDtypeOption(given, ['auto', 'float32', 'bfloat16', 'float16']), name, given);
  }
});

test('a dtype the command does not take is a usage error listing what it does', (t) => {
  t.throws(() => parseDtypeOption('f16', ['float32', 'bfloat16']), {
    name: 'UsageError',
    message: '--dtype must be one of float32, bfloat16, got "f16" (short spellings: f32, bf16)',
  });
  t.throws(() => parseDtypeOption('float64', ['float32', 'bfloat16', 'float16']), { message: /got "float64"/ });
});

test('an unknown spelling is left as given for the caller (the training schema names it)', (t) => {
  t.is(canonicalDtype('float64'), 'float64');
  t.is(canonicalDtype('__proto__'), '__proto__');
});

test('help lists each choice with its short spelling', (t) => {
  t.is(dtypeChoices(['float32', 'bfloat16']), 'float32 (f32) | bfloat16 (bf16)');
});
