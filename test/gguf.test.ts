// GGUF: block dequantization against hand-built blocks, the reader on a fixture written by Python's
// `gguf` package (scripts/fixtures/make_tiny_gguf.py), import to a Hugging Face directory, and — where
// RDPO_TEST_GGUF names it (test/helpers/data_paths.ts) — the real SmolLM2 file.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dequantize, halfToFloat, UnsupportedGgmlTypeError } from '../lib/gguf/dequantize.js';
import { GGML_TYPE } from '../lib/gguf/ggml_types.js';
import { readGguf, GgufFormatError } from '../lib/gguf/reader.js';
import { importGguf } from '../lib/gguf/import_gguf.js';
import { unpermuteRotaryRows } from '../lib/gguf/rotary_permutation.js';
import { floatToBf16 } from '../lib/gguf/bf16.js';
import { configJson } from '../lib/gguf/config_json.js';
import { Tokenizer } from '../lib/tokenize/tokenizer.js';
import { ggufTest, smolGguf } from './helpers/data_paths.js';

const FIX = join(import.meta.dirname, 'fixtures');
const TINY = join(FIX, 'gguf', 'tiny-llama.gguf');

/** Minimal safetensors reader for the checks (F32 and BF16 → Float32Array). */
function readSafetensors(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n)) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = buf.subarray(8 + n + h.data_offsets[0], 8 + n + h.data_offsets[1]);
    let data: Float32Array;
    if (h.dtype === 'F32') data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    else if (h.dtype === 'BF16') {
      data = new Float32Array(bytes.byteLength / 2);
      const u = new Uint32Array(data.buffer);
      for (let i = 0; i < data.length; i++) u[i] = bytes.readUInt16LE(i * 2) << 16;
    } else throw new Error(`dtype ${h.dtype}`);
    out.set(name, { shape: h.shape, data });
  }
  return out;
}

const f16 = (x: number) => {
  // Exact halves used below only.
  const table: Record<number, number> = { 0.5: 0x3800, 2: 0x4000, 0.25: 0x3400, [-1]: 0xbc00, 1: 0x3c00, [-2.5]: 0xc100, 0.1: 0x2e66 };
  return table[x]!;
};

test('halfToFloat: normals, subnormals, infinities, NaN', (t) => {
  t.is(halfToFloat(0x3c00), 1);
  t.is(halfToFloat(0xc000), -2);
  t.is(halfToFloat(0x0001), 2 ** -24);
  t.is(halfToFloat(0x7c00), Infinity);
  t.true(Number.isNaN(halfToFloat(0x7e00)));
  t.is(halfToFloat(0x7bff), 65504);
});

test('dequantize hand-built blocks: F32, F16, BF16, Q8_0, Q4_0, Q4_1', (t) => {
  // F32 / F16 / BF16
  t.deepEqual([...dequantize(GGML_TYPE.F32!, new Uint8Array(new Float32Array([1.5, -2]).buffer), 2)], [1.5, -2]);
  t.deepEqual([...dequantize(GGML_TYPE.F16!, new Uint8Array(new Uint16Array([f16(1), f16(-2.5)]).buffer), 2)], [1, -2.5]);
  t.deepEqual([...dequantize(GGML_TYPE.BF16!, new Uint8Array(new Uint16Array([0x3f80, 0xc020]).buffer), 2)], [1, -2.5]);
  // Q8_0: d = 0.5, q = -16..15 → x = q/2
  const q8 = Buffer.alloc(34);
  q8.writeUInt16LE(f16(0.5), 0);
  for (let j = 0; j < 32; j++) q8.writeInt8(j - 16, 2 + j);
  t.deepEqual(
    [...dequantize(GGML_TYPE.Q8_0!, q8, 32)],
    Array.from({ length: 32 }, (_, j) => (j - 16) / 2),
  );
  // Q4_0: d = 2, byte j holds element j (low nibble) and j+16 (high nibble), each minus 8.
  const q40 = Buffer.alloc(18);
  q40.writeUInt16LE(f16(2), 0);
  for (let j = 0; j < 16; j++) q40[2 + j] = (j & 15) | ((15 - j) << 4);
  const e40 = [...Array.from({ length: 16 }, (_, j) => 2 * (j - 8)), ...Array.from({ length: 16 }, (_, j) => 2 * (15 - j - 8))];
  t.deepEqual([...dequantize(GGML_TYPE.Q4_0!, q40, 32)], e40);
  // Q4_1: d = 0.25, m = -1, unsigned nibbles: x = q/4 − 1. Two blocks, the second with d = 1, m = 0.1.
  const q41 = Buffer.alloc(40);
  q41.writeUInt16LE(f16(0.25), 0);
  q41.writeUInt16LE(f16(-1), 2);
  for (let j = 0; j < 16; j++) q41[4 + j] = j | (((j * 7) % 16) << 4);
  q41.writeUInt16LE(f16(1), 20);
  q41.writeUInt16LE(f16(0.1), 22);
  for (let j = 0; j < 16; j++) q41[24 + j] = 3 | (9 << 4);
  const got = dequantize(GGML_TYPE.Q4_1!, q41, 64);
  const m2 = Math.fround(halfToFloat(f16(0.1)));
  const e41 = [
    ...Array.from({ length: 16 }, (_, j) => j / 4 - 1),
    ...Array.from({ length: 16 }, (_, j) => ((j * 7) % 16) / 4 - 1),
    ...Array.from({ length: 16 }, () => Math.fround(3 + m2)),
    ...Array.from({ length: 16 }, () => Math.fround(9 + m2)),
  ];
  t.deepEqual([...got], e41);
  // What cannot be dequantized says so, with a way out.
  t.throws(() => dequantize(GGML_TYPE.IQ3_S!, new Uint8Array(110), 256), { instanceOf: UnsupportedGgmlTypeError, message: /IQ3_S .*supported: .*IQ4_XS/ });
  t.throws(() => dequantize(GGML_TYPE.Q8_0!, q8, 16), { instanceOf: RangeError });
});

test('dequantize equals Python gguf’s dequantize bit for bit on random blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K…Q6_K, IQ4_NL, IQ4_XS)', (t) => {
  // scripts/fixtures/make_quant_blocks.py: random packed bytes, float16 scales incl. subnormals and 65504.
  const cases = JSON.parse(readFileSync(join(FIX, 'gguf', 'quant-blocks.json'), 'utf8')) as {
    type: string;
    elements: number;
    blocks: string;
    expected: string;
  }[];
  t.deepEqual(
    cases.map((c) => c.type),
    ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_NL', 'IQ4_XS'],
  );
  for (const c of cases) {
    const e = Buffer.from(c.expected, 'base64');
    const expected = new Float32Array(e.buffer.slice(e.byteOffset, e.byteOffset + e.byteLength));
    const got = dequantize(GGML_TYPE[c.type]!, Buffer.from(c.blocks, 'base64'), c.elements);
    let mismatches = 0;
    let first = -1;
    for (let i = 0; i < got.length; i++) {
      if (!Object.is(got[i], expected[i])) {
        mismatches++;
        if (first < 0) first = i;
      }
    }
    t.is(mismatches, 0, `${c.type}: ${mismatches} of ${got.length} differ, first at ${first}: ${got[first]} vs ${expected[first]}`);
  }
});

test('configJson writes the fields transformers types as float with a fraction', (t) => {
  const text = configJson({
    num_hidden_layers: 2,
    final_logit_softcapping: 30,
    rms_norm_eps: 1e-6,
    rope_scaling: { rope_type: 'linear', factor: 8 },
    long: [1],
    long_factor: [1, 1.5],
    sliding_window: null,
  });
  t.regex(text, /"num_hidden_layers": 2,/);
  t.regex(text, /"final_logit_softcapping": 30\.0,/);
  t.regex(text, /"rms_norm_eps": 0\.000001,|"rms_norm_eps": 1e-6,/);
  t.regex(text, /"factor": 8\.0/);
  t.regex(text, /"long": \[\s*1\s*\]/);
  t.regex(text, /"long_factor": \[\s*1\.0,\s*1\.5\s*\]/);
  t.deepEqual(JSON.parse(text), {
    num_hidden_layers: 2,
    final_logit_softcapping: 30,
    rms_norm_eps: 1e-6,
    rope_scaling: { rope_type: 'linear', factor: 8 },
    long: [1],
    long_factor: [1, 1.5],
    sliding_window: null,
  });
});

test('unpermuteRotaryRows inverts llama.cpp’s permutation', (t) => {
  // 2 heads of dim 4, 1 column: HF rows [0..7]; llama.cpp stores per head [0,2,1,3].
  const gguf = new Float32Array([0, 2, 1, 3, 4, 6, 5, 7]);
  t.deepEqual([...unpermuteRotaryRows(gguf, 8, 1, 2)], [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('floatToBf16 rounds to nearest even', (t) => {
  // exact; a tie to even (down); above half (up); a tie to even (up); negative.
  const b = floatToBf16(new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -9, 1 + 2 ** -7 + 2 ** -8, -2.5]));
  t.deepEqual([...b], [0x3f80, 0x3f80, 0x3f81, 0x3f82, 0xc020]);
});

test('reader: metadata of every type, tensor infos, alignment', (t) => {
  const f = readGguf(TINY);
  t.is(f.version, 3);
  t.is(f.alignment, 32);
  t.is(f.dataOffset % 32, 0);
  const m = f.metadata;
  t.is(m.get('general.architecture'), 'llama');
  t.is(m.get('test.u8'), 200);
  t.is(m.get('test.i8'), -100);
  t.is(m.get('test.u16'), 60000);
  t.is(m.get('test.i16'), -30000);
  t.is(m.get('test.i32'), -2_000_000_000);
  t.is(m.get('test.u64'), 2 ** 40 + 3);
  t.is(m.get('test.i64'), -(2 ** 40));
  t.is(m.get('test.f64'), 1 / 3);
  t.is(m.get('test.bool'), true);
  t.deepEqual(m.get('test.nested'), [[1, 2], [3]]);
  t.is(f.tensors.length, 12);
  const q = f.tensors.find((x) => x.name === 'blk.0.attn_q.weight')!;
  t.deepEqual(q.dims, [32, 32]);
  t.is(q.typeInfo.name, 'Q4_0');
  t.deepEqual([...new Set(f.tensors.map((x) => x.typeInfo.name))].sort(), ['BF16', 'F16', 'F32', 'Q4_0', 'Q4_1', 'Q8_0']);
});

test('reader: not a GGUF, truncated file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-bad-'));
  try {
    writeFileSync(join(dir, 'x.gguf'), 'not a gguf file at all');
    t.throws(() => readGguf(join(dir, 'x.gguf')), { instanceOf: GgufFormatError, message: /is not a GGUF file/ });
    copyFileSync(TINY, join(dir, 'cut.gguf'));
    const fd = openSync(join(dir, 'cut.gguf'), 'r+');
    ftruncateSync(fd, 40000);
    closeSync(fd);
    t.throws(() => readGguf(join(dir, 'cut.gguf')), { instanceOf: GgufFormatError, message: /runs past the end of the file/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('import: tensors equal Python’s dequantize in HF layout; config, tokenizer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-import-'));
  try {
    const out = join(dir, 'f32');
    const report = await importGguf(TINY, out, { dtype: 'f32' });
    t.is(report.tensors, 12);
    t.false(report.tiedEmbeddings);
    const ours = readSafetensors(join(out, 'model.safetensors'));
    const expected = readSafetensors(join(FIX, 'gguf', 'tiny-llama.expected.safetensors'));
    t.is(ours.size, expected.size);
    for (const [name, e] of expected) {
      const o = ours.get(name);
      t.truthy(o, name);
      t.deepEqual(o!.shape, e.shape, name);
      let worst = 0;
      for (let i = 0; i < e.data.length; i++) worst = Math.max(worst, Math.abs(o!.data[i]! - e.data[i]!));
      t.true(worst <= 1e-6, `${name}: max |diff| ${worst}`);
    }
    // bf16: the same values within bf16 rounding.
    await importGguf(TINY, join(dir, 'bf16'));
    const b = readSafetensors(join(dir, 'bf16', 'model.safetensors')).get('model.layers.0.self_attn.k_proj.weight')!;
    const e = expected.get('model.layers.0.self_attn.k_proj.weight')!;
    t.true(e.data.every((v, i) => Math.abs(v - b.data[i]!) <= Math.abs(v) * 2 ** -8 + 1e-12));

    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    t.like(config, {
      architectures: ['LlamaForCausalLM'],
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 8,
      max_position_embeddings: 256,
      rope_theta: 10000,
      tie_word_embeddings: false,
      vocab_size: 300,
      torch_dtype: 'float32',
    });
    t.true(Math.abs(config.rms_norm_eps - 1e-6) < 1e-12);
    const facts = JSON.parse(readFileSync(join(FIX, 'gguf', 'tiny-llama.expected.json'), 'utf8')) as { tokens: Record<string, number[]> };
    const tok = Tokenizer.load(out);
    for (const [s, ids] of Object.entries(facts.tokens)) t.deepEqual(tok.encode(s), ids, s);
    t.is(tok.eosToken, '<|im_end|>');
    t.is(tok.bosToken, '<|im_start|>');
    t.is(tok.padToken, '<|endoftext|>');
    t.truthy(tok.chatTemplate);
    t.deepEqual(tok.eosTokenIds, [tok.eosTokenId!]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

ggufTest()('SmolLM2-135M-Instruct GGUF: types, config, tokenizer parity with transformers', async (t) => {
  const SMOL = smolGguf!;
  const dir = mkdtempSync(join(tmpdir(), 'gguf-smol-'));
  try {
    const report = await importGguf(SMOL, join(dir, 'smol'));
    t.log(`imported in ${report.seconds.toFixed(1)} s`);
    t.deepEqual(report.sourceTypes, { Q8_0: 1, F32: 61, Q4_1: 210 });
    t.true(report.tiedEmbeddings);
    const config = JSON.parse(readFileSync(join(dir, 'smol', 'config.json'), 'utf8'));
    t.like(config, {
      hidden_size: 576,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      intermediate_size: 1536,
      vocab_size: 49152,
      rope_theta: 100000,
      max_position_embeddings: 8192,
    });
    const tok = Tokenizer.load(join(dir, 'smol'));
    // The fixture's expected ids come from transformers on a tokenizer rebuilt by the Python gguf reader.
    const exp = JSON.parse(readFileSync(join(FIX, 'tokenizers', 'smollm2', 'expected.json'), 'utf8')) as { encode: { text: string; ids: number[] }[] };
    for (const e of exp.encode) t.deepEqual(tok.encode(e.text), e.ids, e.text);
    t.is(tok.eosToken, '<|im_end|>');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
