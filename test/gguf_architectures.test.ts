// GGUF import beyond llama: tiny qwen2, qwen3, gemma2, gemma3 and phi3 files with K-quant tensors
// (scripts/fixtures/make_tiny_gguf.py → tiny_gguf_archs.py), plus a Llama 3.2-style llama file, each standing for a known transformers
// model. Checked per architecture: the Hugging Face directory's config and tensor names/shapes/values,
// the SentencePiece tokenizer against sentencepiece's own ids, transformers loading the directory
// (scripts/fixtures/check_gguf_import.py, where python3 with transformers is present), and the native
// model's log-probs and greedy tokens (where the addon knows the model_type).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importGguf } from '../lib/gguf/import_gguf.js';
import { Tokenizer } from '../lib/tokenize/tokenizer.js';
import { CausalLM } from '../lib/model/causal_lm.js';
import { packSequences } from '../lib/model/packing.js';
import { readF32Safetensors } from './helpers/safetensors_read.js';
import { fixture } from './helpers/data_paths.js';
import { repoRoot } from './helpers/cli.js';

interface Expected {
  architecture: string;
  model_type: string;
  config: Record<string, unknown>;
  source_types: string[];
  tensors: Record<string, { shape: number[]; sum: number; abs_sum: number; head: number[] }>;
  sequences: { ids: number[]; token_logprobs: number[] }[];
  greedy: { prompt_ids: number[]; new_tokens: number[] };
  encodings?: Record<string, number[]>;
}

// llama3: a `llama` file with Llama 3.1/3.2 rope scaling (rope_freqs.weight) and permuted K-quant Q/K.
const ARCHS = ['qwen2', 'qwen3', 'gemma2', 'gemma3', 'phi3', 'llama3'];
const dir = mkdtempSync(join(tmpdir(), 'gguf-archs-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const imported = new Map<string, Promise<string>>();
/** Each fixture is imported once (float32) and shared by the tests below. */
function importOnce(arch: string): Promise<string> {
  let p = imported.get(arch);
  if (!p) {
    const out = join(dir, arch);
    p = importGguf(fixture('gguf', `tiny-${arch}.gguf`), out, { dtype: 'f32' }).then(() => out);
    imported.set(arch, p);
  }
  return p;
}
const expectedOf = (arch: string) => JSON.parse(readFileSync(fixture('gguf', `tiny-${arch}.expected.json`), 'utf8')) as Expected;

const python = (() => {
  const r = spawnSync('python3', ['-c', 'import transformers, torch'], { encoding: 'utf8' });
  return r.status === 0 ? null : `python3 with transformers and torch is not available (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`;
})();

for (const arch of ARCHS) {
  test(`${arch}: K-quant GGUF → Hugging Face names, shapes, values and config`, async (t) => {
    const exp = expectedOf(arch);
    const out = await importOnce(arch);
    t.true(
      exp.source_types.some((s) => s.endsWith('_K')),
      'the fixture holds K-quant tensors',
    );
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    t.is(config.model_type, exp.model_type);
    for (const k of [
      'vocab_size',
      'hidden_size',
      'intermediate_size',
      'num_hidden_layers',
      'num_attention_heads',
      'num_key_value_heads',
      'tie_word_embeddings',
    ]) {
      t.deepEqual(config[k], exp.config[k], k);
    }
    // What config.json must spell out (transformers derives the rest: Qwen's layer_types, Phi-3's head_dim).
    const spelled = arch.startsWith('gemma')
      ? ['head_dim', 'layer_types', 'sliding_window', 'query_pre_attn_scalar', 'attn_logit_softcapping', 'final_logit_softcapping']
      : arch === 'phi3'
        ? ['original_max_position_embeddings']
        : arch === 'qwen3' || arch === 'llama3'
          ? ['head_dim']
          : [];
    if (arch === 'llama3') {
      t.deepEqual(config.rope_scaling, { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
    }
    for (const k of spelled) t.deepEqual(config[k], exp.config[k], k);
    const ours = readF32Safetensors(join(out, 'model.safetensors'));
    t.deepEqual([...ours.keys()].sort(), Object.keys(exp.tensors).sort());
    const header = JSON.parse(
      readFileSync(join(out, 'model.safetensors'))
        .subarray(8, 8 + Number(readFileSync(join(out, 'model.safetensors')).readBigUInt64LE(0)))
        .toString('utf8'),
    ) as Record<string, { shape: number[] }>;
    for (const [name, e] of Object.entries(exp.tensors)) {
      t.deepEqual(header[name]!.shape, e.shape, name);
      const data = ours.get(name)!;
      t.deepEqual([...data.subarray(0, 4)], e.head, `${name}: first values`);
      let sum = 0;
      let abs = 0;
      for (const x of data) {
        sum += x;
        abs += Math.abs(x);
      }
      t.true(Math.abs(abs - e.abs_sum) <= 1e-9 * e.abs_sum + 1e-9, `${name}: Σ|x| ${abs} vs ${e.abs_sum}`);
      t.true(Math.abs(sum - e.sum) <= 1e-9 * e.abs_sum + 1e-9, `${name}: Σx ${sum} vs ${e.sum}`);
    }
  });

  if (expectedOf(arch).encodings) {
    test(`${arch}: SentencePiece vocabulary rebuilt as tokenizer.json encodes like sentencepiece`, async (t) => {
      const exp = expectedOf(arch);
      const tok = Tokenizer.load(await importOnce(arch));
      for (const [text, ids] of Object.entries(exp.encodings!)) {
        t.deepEqual(tok.encode(text, { addSpecialTokens: false }), ids, JSON.stringify(text));
        t.is(tok.decode(ids), text, `decode ${JSON.stringify(text)}`);
      }
      // BOS is added as the file says (tokenizer.ggml.add_bos_token).
      t.is(tok.encode('Hello')[0], 1);
      t.is(tok.eosTokenId, 2);
    });
  }

  // One Python process at a time: each loads torch and transformers.
  (python ? test.skip : test.serial)(
    `${arch}: transformers loads the imported directory and matches the original model${python ? ` (skipped: ${python})` : ''}`,
    async (t) => {
      const out = await importOnce(arch);
      const r = spawnSync('python3', [join(repoRoot, 'scripts', 'fixtures', 'check_gguf_import.py'), out, fixture('gguf', `tiny-${arch}.expected.json`)], {
        encoding: 'utf8',
        env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_VERBOSITY: 'error' },
      });
      const last = r.stdout.trim().split('\n').pop() ?? '';
      t.is(r.status, 0, `${last}\n${r.stderr.slice(-2000)}`);
      const report = JSON.parse(last) as { ok: boolean; failures: string[]; max_logprob_diff: number; model_class: string };
      t.log(`${report.model_class}: max per-token log-prob difference ${report.max_logprob_diff}`);
      t.deepEqual(report.failures, []);
    },
  );

  test(`${arch}: the native model gives transformers' log-probs and greedy tokens`, async (t) => {
    const exp = expectedOf(arch);
    const out = await importOnce(arch);
    const model = await CausalLM.load(out, { dtype: 'float32' });
    try {
      for (const s of exp.sequences) {
        const r = await model.sequenceLogprobs(packSequences([{ prompt: s.ids.slice(0, 1), completions: [s.ids.slice(1)] }]));
        const want = s.token_logprobs.reduce((a, b) => a + b, 0);
        t.true(Math.abs(r.sum[0]! - want) <= 1e-4 * Math.abs(want) + 1e-4, `sum of log-probs ${r.sum[0]} vs ${want}`);
      }
      const [gen] = await model.generate([exp.greedy.prompt_ids], { maxNewTokens: exp.greedy.new_tokens.length });
      t.deepEqual(gen, exp.greedy.new_tokens);
    } finally {
      model.dispose();
    }
  });
}
