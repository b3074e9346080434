// Hostile inputs at the native boundary: each used to crash Node, wrap silently or
// be accepted; now each is a TypeError/RangeError or a named load error.
import test from 'ava';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CausalLM } from '../lib/index.js';
import { checkAbiVersion, EXPECTED_ABI_VERSION, loadNative, NativeLoadError } from '../lib/native/load.js';

const native = loadNative();
const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'models');

test('tokenLogprobs without h is a TypeError, not a division by zero (SIGFPE)', (t) => {
  const hidden = new Float32Array(8),
    weight = new Float32Array(12),
    targets = new Int32Array([0, 1]);
  const err = t.throws(() => native.testing.tokenLogprobs(hidden, weight, targets, {} as { h: number }));
  t.true(err instanceof TypeError);
  t.regex(err.message, /option 'h' is required/);
  t.throws(() => native.testing.tokenLogprobs(hidden, weight, targets, { h: 0 }), { instanceOf: RangeError, message: /'h'.*must be in 1\.\./ });
  t.throws(() => native.testing.tokenLogprobs(hidden, weight, targets, { h: 1.5 }), { instanceOf: RangeError });
  t.throws(() => native.testing.tokenLogprobs(hidden, weight, targets, { h: Number.NaN }), { instanceOf: RangeError });
  t.is(native.testing.tokenLogprobs(hidden, weight, targets, { h: 4 }).length, 2);
});

test('every other required integer option is checked the same way', async (t) => {
  await t.throwsAsync(async () => native.testing.fusedLogprobsPeakMemory({ h: 4, v: 4 } as never), {
    instanceOf: TypeError,
    message: /option 'n' is required/,
  });
  const model = await CausalLM.load(path.join(FIXTURES, 'llama'));
  t.teardown(() => model.dispose());
  const packed = {
    inputIds: new Int32Array([1, 2]),
    positionIds: new Int32Array([0, 1]),
    branchIds: new Int32Array(2),
    groupOffsets: new Int32Array([0, 2]),
    scoreRows: new Int32Array([0]),
    scoreTargets: new Int32Array([2]),
    scoreSeq: new Int32Array([0]),
  };
  t.throws(() => model.nativeHandle.sequenceLogprobs(packed as never), { instanceOf: TypeError, message: /numSequences' is required/ });
  const trainer = await native.createTrainer(model.nativeHandle, { loss: 'sft' } as never);
  await t.throwsAsync(async () => trainer.accumulate({ ...packed, numSequences: 1 } as never, 1), { instanceOf: TypeError, message: /numPairs' is required/ });
  await t.throwsAsync(async () => model.nativeHandle.generate(new Int32Array([1]), new Int32Array([1]), { eosTokenIds: [2 ** 40] }), {
    instanceOf: RangeError,
    message: /eosTokenIds\[0\]/,
  });
});

test('token ids of 2^32 and above, NaN or fractions are a RangeError, not wrapped into the vocabulary', async (t) => {
  const model = await CausalLM.load(path.join(FIXTURES, 'llama'));
  t.teardown(() => model.dispose());
  for (const bad of [2 ** 32 + 1, Number.NaN, -1, 1.5, 2 ** 31]) {
    await t.throwsAsync(model.logits([[1, bad]]), { instanceOf: RangeError, message: /sequence 0, position 1: token id/ });
    await t.throwsAsync(model.generate([[bad]], { maxNewTokens: 1 }), { instanceOf: RangeError });
  }
});

function withHeader(
  t: { teardown: (fn: () => void) => void },
  edit: (header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>) => string,
): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-faults-st-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(path.join(FIXTURES, 'llama', 'config.json'), path.join(dir, 'config.json'));
  const bytes = readFileSync(path.join(FIXTURES, 'llama', 'model.safetensors'));
  const len = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as Parameters<typeof edit>[0];
  const text = Buffer.from(edit(header), 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(text.length));
  writeFileSync(path.join(dir, 'model.safetensors'), Buffer.concat([lenBuf, text, bytes.subarray(8 + len)]));
  return dir;
}

test('safetensors: overlapping data_offsets are rejected, naming both tensors', async (t) => {
  const dir = withHeader(t, (h) => {
    const names = Object.keys(h).filter((n) => n !== '__metadata__');
    const bytesOf = (n: string) => h[n]!.data_offsets[1] - h[n]!.data_offsets[0];
    // Two tensors of equal size: point the second at the first one's bytes (their own bytes go unused).
    const a = names.find((n) => names.some((m) => m !== n && bytesOf(m) === bytesOf(n) && h[m]!.dtype === h[n]!.dtype))!;
    const b = names.find((m) => m !== a && bytesOf(m) === bytesOf(a) && h[m]!.dtype === h[a]!.dtype)!;
    h[b]!.data_offsets = [...h[a]!.data_offsets];
    return JSON.stringify(h);
  });
  await t.throwsAsync(CausalLM.load(dir), { message: /model\.safetensors: tensors '[^']+' \[\d+, \d+\) and '[^']+' \[\d+, \d+\) overlap in data_offsets/ });
});

test('safetensors: a tensor named twice in the header is rejected', async (t) => {
  const dir = withHeader(t, (h) => {
    const first = Object.keys(h).find((n) => n !== '__metadata__')!;
    return `{${JSON.stringify(first)}:${JSON.stringify(h[first])},${JSON.stringify(h).slice(1)}`;
  });
  await t.throwsAsync(CausalLM.load(dir), { message: /model\.safetensors: tensor '[^']+' appears twice in the header/ });
});

test('loadNative checks the addon ABI version and refuses another one with a rebuild hint', (t) => {
  t.is(native.abiVersion, EXPECTED_ABI_VERSION);
  t.notThrows(() => checkAbiVersion(native, 'x.node'));
  const err = t.throws(() => checkAbiVersion({ abiVersion: EXPECTED_ABI_VERSION - 1 }, '/some/x.node'));
  t.true(err instanceof NativeLoadError);
  t.regex(
    err.message,
    new RegExp(`/some/x\\.node has ABI version ${EXPECTED_ABI_VERSION - 1}, but this rdpo-native expects ${EXPECTED_ABI_VERSION}.*npm run build:native`),
  );
  t.throws(() => checkAbiVersion({}, 'x.node'), { instanceOf: NativeLoadError, message: /ABI version undefined/ });
});
