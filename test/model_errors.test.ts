// Bad checkpoints fail with messages that name the file, the tensor or the key; save() writes a
// directory that loads back to the same numbers (and, sharded via an index, still loads).
import test from 'ava';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CausalLM } from '../lib/index.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'models');

function copyFixture(t: { teardown: (fn: () => void) => void }, name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `rdpo-model-${name}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(path.join(FIXTURES, name, f), path.join(dir, f));
  return dir;
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'config.json');
  const c = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(c);
  writeFileSync(file, JSON.stringify(c));
}

test('a truncated safetensors file names the file and the tensor that lies outside it', async (t) => {
  const dir = copyFixture(t, 'llama');
  const file = path.join(dir, 'model.safetensors');
  truncateSync(file, readFileSync(file).length - 1000);
  const err = await t.throwsAsync(CausalLM.load(dir));
  t.regex(err.message, /model\.safetensors: tensor '[^']+': data range \[\d+, \d+\) lies outside the file/);
});

test('a malformed header is a clear error', async (t) => {
  const dir = copyFixture(t, 'llama');
  const file = path.join(dir, 'model.safetensors');
  const bytes = readFileSync(file);
  // A header length beyond the file.
  const huge = Buffer.from(bytes);
  huge.writeBigUInt64LE(10n ** 12n, 0);
  writeFileSync(file, huge);
  let err = await t.throwsAsync(CausalLM.load(dir));
  t.regex(err.message, /model\.safetensors: truncated or not a safetensors file \(header length/);
  // Broken JSON inside the header: the byte offset is given.
  const broken = Buffer.from(bytes);
  broken.write('{"x', 8 + 1, 'latin1');
  writeFileSync(file, broken);
  err = await t.throwsAsync(CausalLM.load(dir));
  t.regex(err.message, /safetensors header\): invalid JSON at byte \d+/);
  // Too short to be anything.
  writeFileSync(file, Buffer.from([1, 2, 3]));
  err = await t.throwsAsync(CausalLM.load(dir));
  t.regex(err.message, /not a safetensors file \(3 bytes/);
});

test('config errors: unknown model_type lists the supported ones; a missing key names key and file', async (t) => {
  const dir = copyFixture(t, 'qwen2');
  editConfig(dir, (c) => (c.model_type = 'bert'));
  let err = await t.throwsAsync(CausalLM.load(dir), { instanceOf: TypeError });
  t.regex(err.message, /model_type 'bert' is not supported \(supported: llama, mistral, qwen2, qwen3, phi3, gemma2, gemma3_text, gpt2\)/);
  editConfig(dir, (c) => {
    c.model_type = 'qwen2';
    delete c.hidden_size;
  });
  err = await t.throwsAsync(CausalLM.load(dir));
  t.regex(err.message, /config\.json: missing required key 'hidden_size'/);
  t.true(err.message.includes(dir));
  editConfig(dir, (c) => {
    c.hidden_size = 64;
    c.intermediate_size = 100;
  });
  err = await t.throwsAsync(CausalLM.load(dir));
  t.regex(err.message, /tensor 'model\.layers\.0\.mlp\.gate_proj\.weight' has shape \[128, 64\] but config\.json implies \[100, 64\]/);
  editConfig(dir, (c) => {
    c.intermediate_size = 128;
    c.rope_parameters = { rope_type: 'yarn', rope_theta: 10000, factor: 2 };
  });
  err = await t.throwsAsync(CausalLM.load(dir));
  t.regex(err.message, /rope_parameters type 'yarn' is not supported/);
  rmSync(path.join(dir, 'model.safetensors'));
  editConfig(dir, (c) => (c.rope_parameters = { rope_type: 'default', rope_theta: 10000 }));
  err = await t.throwsAsync(CausalLM.load(dir));
  t.regex(err.message, /no model\.safetensors or model\.safetensors\.index\.json/);
  await t.throwsAsync(CausalLM.load(dir, { dtype: 'int8' as never }), { instanceOf: TypeError, message: /unknown dtype/ });
});

test('config errors of the newer architectures name the key and what would work', async (t) => {
  const gemma = copyFixture(t, 'gemma3');
  editConfig(gemma, (c) => (c.layer_types = ['sliding_attention', 'full_attention']));
  let err = await t.throwsAsync(CausalLM.load(gemma));
  t.regex(err.message, /config\.json: 'layer_types' must list one entry per layer \(3\)/);
  editConfig(gemma, (c) => (c.layer_types = ['sliding_attention', 'chunked_attention', 'full_attention']));
  err = await t.throwsAsync(CausalLM.load(gemma));
  t.regex(err.message, /'layer_types' entry 'chunked_attention' is not supported \(supported: sliding_attention, full_attention\)/);
  editConfig(gemma, (c) => {
    c.layer_types = ['sliding_attention', 'full_attention', 'sliding_attention'];
    c.hidden_activation = 'relu';
  });
  err = await t.throwsAsync(CausalLM.load(gemma));
  t.regex(err.message, /hidden_activation 'relu' is not supported \(supported: gelu_pytorch_tanh\)/);

  editConfig(gemma, (c) => (c.model_type = 'gemma3'));
  err = await t.throwsAsync(CausalLM.load(gemma));
  t.regex(err.message, /model_type 'gemma3' is the multimodal Gemma 3 .* text-only Gemma 3 checkpoints \(model_type gemma3_text/);

  const phi = copyFixture(t, 'phi3');
  editConfig(phi, (c) => ((c.rope_parameters as { short_factor: number[] }).short_factor = [1, 1]));
  err = await t.throwsAsync(CausalLM.load(phi));
  t.regex(err.message, /longrope short_factor and long_factor need 6 entries each \(half the rotated dimensions\), got 2 and 6/);
  editConfig(phi, (c) => (c.rope_parameters = { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.2 }));
  err = await t.throwsAsync(CausalLM.load(phi));
  t.regex(err.message, /partial_rotary_factor 0\.2\d* must lie in \(0, 1\] and give an even number of rotated dimensions of head_dim 16/);
});

test('save() writes a directory that loads back to the same logits, copies tokenizer files, and bf16 saves', async (t) => {
  const src = copyFixture(t, 'llama3');
  writeFileSync(path.join(src, 'tokenizer.json'), '{"model":{}}');
  // The native JSON reader/writer: escapes, surrogate pairs, exponents and nesting survive a save.
  const cfgText = readFileSync(path.join(src, 'config.json'), 'utf8').trimEnd();
  writeFileSync(
    path.join(src, 'config.json'),
    cfgText.slice(0, -1) + ',"_note":"caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\n","_nums":[1e-5,-2.5E+3,0,123456789012]}',
  );
  const out = mkdtempSync(path.join(os.tmpdir(), 'rdpo-saved-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const model = await CausalLM.load(src);
  const seq = [[4, 8, 15, 16, 23, 42]];
  const before = await model.logits(seq);
  await model.save(out);
  t.true(existsSync(path.join(out, 'tokenizer.json')));
  const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  t.is(config.model_type, 'llama');
  t.is(config._note, 'caf\u00e9 \ud83d\ude00 "q" \\ \n');
  t.deepEqual(config._nums, [1e-5, -2500, 0, 123456789012]);
  // Numbers keep their spelling: transformers 5 rejects 500000 where a float field wants 500000.0.
  const savedText = readFileSync(path.join(out, 'config.json'), 'utf8');
  t.regex(savedText, /"rope_theta": 500000\.0,/);
  t.regex(savedText, /"rms_norm_eps": 1e-06,/);
  t.deepEqual(config.rope_scaling, JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8')).rope_scaling);
  const reloaded = await CausalLM.load(out);
  t.deepEqual(await reloaded.logits(seq), before);
  reloaded.dispose();

  // Sharded form: the same file renamed, listed in model.safetensors.index.json.
  const header = readFileSync(path.join(out, 'model.safetensors'));
  const names = Object.keys(JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString('utf8'))).filter((n) => n !== '__metadata__');
  renameSync(path.join(out, 'model.safetensors'), path.join(out, 'model-00001-of-00001.safetensors'));
  writeFileSync(
    path.join(out, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: Object.fromEntries(names.map((n) => [n, 'model-00001-of-00001.safetensors'])) }),
  );
  const sharded = await CausalLM.load(out);
  t.deepEqual(await sharded.logits(seq), before);
  sharded.dispose();

  await model.save(out, { dtype: 'bfloat16' });
  t.is((JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as { dtype: string }).dtype, 'bfloat16');
  rmSync(path.join(out, 'model.safetensors.index.json'));
  const bf16 = await CausalLM.load(out);
  const after = await bf16.logits(seq);
  let maxDiff = 0;
  after[0]!.forEach((row, i) => row.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - before[0]![i]![k]!)))));
  t.true(maxDiff < 0.1, `bf16 weights shift logits by ${maxDiff}`);
  bf16.dispose();
  model.dispose();
});
