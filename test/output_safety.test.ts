// Outputs never destroy inputs or unrelated directories: an --out that is the --data (also through
// a symlink or a hard link) is refused before anything is written; import-gguf and merge-lora
// replace only an empty directory or one they wrote; and no weight writer writes NaN or inf.
import test from 'ava';
import { cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readGguf } from '../lib/gguf/reader.js';
import { OUTPUT_MARKER } from '../lib/util/output_marker.js';
import { runCli } from './helpers/cli.js';
import { fixture } from './helpers/data_paths.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir } from './helpers/train_fixture.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rdpo-output-safety-'));
test.before(() => ensureDist());
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const PAIRS = JSON.stringify({ prompt: 'Hello', chosen: ' world', rejected: ' there' }) + '\n';
function dataFile(name: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, PAIRS);
  return f;
}

test('logprobs / generate / rationales: --out that is the input (same path, symlink, hard link) is refused; the input is untouched', async (t) => {
  const data = dataFile('pairs.jsonl');
  const link = path.join(dir, 'pairs-link.jsonl');
  symlinkSync(data, link);
  const hard = path.join(dir, 'pairs-hard.jsonl');
  linkSync(data, hard);
  for (const out of [data, link, hard]) {
    const r = await runCli(['logprobs', '--model', policyDir, '--data', data, '--out', out]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /--out .* is --data .*pairs\.jsonl \(the same file after links\); writing it would destroy the input/);
  }
  const g = await runCli(['generate', '--model', policyDir, '--prompts', data, '--out', link]);
  t.is(g.code, 2, g.stderr);
  t.regex(g.stderr, /--out .* is --prompts /);
  const r = await runCli(['rationales', '--data', data, '--out', data, '--style', 'general', '--generator', 'openai:http://127.0.0.1:9/v1']);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /--out .* is --data /);
  t.is(readFileSync(data, 'utf8'), PAIRS);
});

test('import-gguf replaces only an empty directory or one it wrote; never an unrelated one or one holding the .gguf', async (t) => {
  const gguf = fixture('gguf', 'tiny-llama.gguf');
  const mine = path.join(dir, 'my-stuff');
  mkdirSync(mine);
  writeFileSync(path.join(mine, 'thesis.tex'), 'years of work\n');
  const refused = await runCli(['import-gguf', gguf, '--out', mine]);
  t.is(refused.code, 2, refused.stderr);
  t.regex(refused.stderr, /--out .*my-stuff is not empty and is not a model directory this tool wrote/);
  t.deepEqual(readdirSync(mine), ['thesis.tex']);

  const empty = path.join(dir, 'empty');
  mkdirSync(empty);
  t.is((await runCli(['import-gguf', gguf, '--out', empty, '--dtype', 'f32'])).code, 0);
  t.true(existsSync(path.join(empty, OUTPUT_MARKER)));
  const again = await runCli(['import-gguf', gguf, '--out', empty]);
  t.is(again.code, 0, again.stderr);

  const holder = path.join(dir, 'holds-gguf');
  mkdirSync(holder);
  cpSync(gguf, path.join(holder, 'model.gguf'));
  const own = await runCli(['import-gguf', path.join(holder, 'model.gguf'), '--out', holder]);
  t.is(own.code, 2, own.stderr);
  t.true(existsSync(path.join(holder, 'model.gguf')));
});

test('import-gguf refuses a GGUF with a NaN weight and writes nothing', async (t) => {
  const src = fixture('gguf', 'tiny-llama.gguf');
  const file = readGguf(src);
  const f16 = file.tensors.find((x) => x.typeInfo.name === 'F16')!;
  const bytes = readFileSync(src);
  bytes.writeUInt16LE(0x7e00, file.dataOffset + f16.offset + 2 * 3); // an F16 NaN
  const bad = path.join(dir, 'nan.gguf');
  writeFileSync(bad, bytes);
  const out = path.join(dir, 'nan-model');
  const r = await runCli(['import-gguf', bad, '--out', out]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, new RegExp(`tensor ${f16.name.replace(/\./g, '\\.')} holds NaN at element \\d+`));
  t.false(existsSync(out));
});

/** The tiny-chat fixture adapter, with its config or one tensor changed. */
function adapterCopy(name: string, change: { config?: Record<string, unknown>; nanIn?: string }): string {
  const to = path.join(dir, name);
  cpSync(fixture('lora', 'tiny-chat'), to, { recursive: true });
  const cfgFile = path.join(to, 'adapter_config.json');
  writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), base_model_name_or_path: policyDir, ...change.config }));
  if (change.nanIn) {
    const wf = path.join(to, 'adapter_model.safetensors');
    const buf = readFileSync(wf);
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
    const name = Object.keys(header).find((k) => k.includes(change.nanIn!))!;
    buf.writeFloatLE(NaN, 8 + n + header[name]!.data_offsets[0]);
    writeFileSync(wf, buf);
  }
  return to;
}

test('merge-lora refuses an adapter with NaN lora_B, r < 1 or non-finite alpha, and merged weights that overflow; nothing is written', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['nan-b', adapterCopy('nan-b', { nanIn: 'lora_B' }), /tensor .*lora_B\.weight holds a NaN or an infinity/],
    ['neg-r', adapterCopy('neg-r', { config: { r: -1 } }), /"r" must be a whole number >= 1, got -1/],
    ['huge-alpha', adapterCopy('huge-alpha', { config: { lora_alpha: 1e308 } }), /gives NaN or infinite weights .*; nothing was written/],
  ];
  for (const [name, adapter, message] of cases) {
    const out = path.join(dir, `merged-${name}`);
    const r = await runCli(['merge-lora', '--model', policyDir, '--adapter', adapter, '--out', out]);
    t.not(r.code, 0, `${name}: ${r.stderr}`);
    t.regex(r.stderr, message, name);
    t.false(existsSync(out), `${name}: no output directory`);
    t.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith(`.merged-${name}`)),
      [],
      `${name}: no temporary left`,
    );
  }
  // A good adapter: written whole with its marker; merging over the model itself or a user's directory is refused.
  const good = adapterCopy('good', {});
  const out = path.join(dir, 'merged-good');
  const ok = await runCli(['merge-lora', '--model', policyDir, '--adapter', good, '--out', out]);
  t.is(ok.code, 0, ok.stderr);
  t.true(existsSync(path.join(out, 'model.safetensors')) && existsSync(path.join(out, 'tokenizer.json')) && existsSync(path.join(out, OUTPUT_MARKER)));
  t.is((await runCli(['merge-lora', '--model', policyDir, '--adapter', good, '--out', out])).code, 0, 'its own output may be replaced');
  const mine = path.join(dir, 'merge-into-mine');
  mkdirSync(mine);
  writeFileSync(path.join(mine, 'notes.txt'), 'x');
  const refused = await runCli(['merge-lora', '--model', policyDir, '--adapter', good, '--out', mine]);
  t.is(refused.code, 2, refused.stderr);
  t.deepEqual(readdirSync(mine), ['notes.txt']);
  const self = await runCli(['merge-lora', '--model', policyDir, '--adapter', good, '--out', good]);
  t.is(self.code, 2, self.stderr);
  t.regex(self.stderr, /--out .* is --adapter /);
});
