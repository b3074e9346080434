// llama.cpp's `llama` architecture → Hugging Face LlamaForCausalLM: tensor names, the Q/K row
// permutation, and config.json from the `llama.*` metadata.
import { GgufFormatError, metaNumber, metaString, type GgufFile } from './reader.js';

const LAYER_MAP: Record<string, string> = {
  attn_norm: 'input_layernorm',
  ffn_norm: 'post_attention_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

const GLOBAL_MAP: Record<string, string> = {
  token_embd: 'model.embed_tokens',
  output_norm: 'model.norm',
  output: 'lm_head',
};

/** The Hugging Face name of a llama.cpp tensor; throws for names this mapping does not know. */
export function hfTensorName(ggufName: string): string {
  const m = /^(.+)\.(weight|bias)$/.exec(ggufName);
  if (m) {
    const [, stem, kind] = m as unknown as [string, string, string];
    const layer = /^blk\.(\d+)\.(\w+)$/.exec(stem);
    if (layer) {
      const target = LAYER_MAP[layer[2]!];
      if (target) return `model.layers.${layer[1]}.${target}.${kind}`;
    } else if (GLOBAL_MAP[stem]) {
      return `${GLOBAL_MAP[stem]}.${kind}`;
    }
  }
  throw new GgufFormatError(`tensor ${ggufName} has no Hugging Face Llama equivalent (known: token_embd, output_norm, output, blk.N.{${Object.keys(LAYER_MAP).join(',')}})`);
}

/**
 * Undo llama.cpp's rotary permutation of Q/K rows. convert_hf_to_gguf reorders each head's rows from
 * HF's half-split layout (first half of the head's dims, then second) to interleaved pairs: GGUF row
 * h·d + 2j + s holds HF row h·d + s·d/2 + j (d = head dim, s ∈ {0,1}). `data` is row-major [rows, cols].
 */
export function unpermuteRotaryRows(data: Float32Array, rows: number, cols: number, nHead: number): Float32Array {
  if (rows % nHead !== 0 || (rows / nHead) % 2 !== 0) throw new GgufFormatError(`cannot unpermute ${rows} rows into ${nHead} heads of even size`);
  const d = rows / nHead;
  const half = d / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < nHead; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const src = (h * d + 2 * j + s) * cols;
        const dst = (h * d + s * half + j) * cols;
        out.set(data.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

export interface LlamaDims {
  hiddenSize: number;
  nLayers: number;
  nHead: number;
  nHeadKv: number;
  vocabSize: number;
}

function required(file: GgufFile, key: string): number {
  const v = metaNumber(file, key);
  if (v === undefined) throw new GgufFormatError(`${file.path}: metadata ${key} is missing; it is needed for config.json`);
  return v;
}

export function llamaDims(file: GgufFile): LlamaDims {
  const arch = metaString(file, 'general.architecture');
  if (arch !== 'llama') throw new GgufFormatError(`${file.path}: architecture ${JSON.stringify(arch)} is not supported (only llama)`);
  const nHead = required(file, 'llama.attention.head_count');
  const tokens = file.metadata.get('tokenizer.ggml.tokens');
  const embd = file.tensors.find((t) => t.name === 'token_embd.weight');
  const vocabSize = metaNumber(file, 'llama.vocab_size') ?? (Array.isArray(tokens) ? tokens.length : embd?.dims[1]);
  if (vocabSize === undefined) throw new GgufFormatError(`${file.path}: cannot tell the vocabulary size (no llama.vocab_size, tokens or token_embd.weight)`);
  return {
    hiddenSize: required(file, 'llama.embedding_length'),
    nLayers: required(file, 'llama.block_count'),
    nHead,
    nHeadKv: metaNumber(file, 'llama.attention.head_count_kv') ?? nHead,
    vocabSize,
  };
}

/** config.json for LlamaForCausalLM. */
export function llamaConfig(file: GgufFile, dtype: 'bfloat16' | 'float32'): Record<string, unknown> {
  const dims = llamaDims(file);
  const headDim = metaNumber(file, 'llama.attention.key_length') ?? metaNumber(file, 'llama.rope.dimension_count') ?? dims.hiddenSize / dims.nHead;
  const scalingType = metaString(file, 'llama.rope.scaling.type');
  const scalingFactor = metaNumber(file, 'llama.rope.scaling.factor');
  let ropeScaling: Record<string, unknown> | null = null;
  if (scalingType && scalingType !== 'none') {
    if (scalingType !== 'linear' || scalingFactor === undefined) {
      throw new GgufFormatError(`${file.path}: rope scaling ${scalingType} is not supported (only linear)`);
    }
    ropeScaling = { type: 'linear', factor: scalingFactor };
  }
  const id = (k: string) => metaNumber(file, `tokenizer.ggml.${k}`);
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: dims.vocabSize,
    hidden_size: dims.hiddenSize,
    intermediate_size: required(file, 'llama.feed_forward_length'),
    num_hidden_layers: dims.nLayers,
    num_attention_heads: dims.nHead,
    num_key_value_heads: dims.nHeadKv,
    head_dim: headDim,
    max_position_embeddings: required(file, 'llama.context_length'),
    rms_norm_eps: metaNumber(file, 'llama.attention.layer_norm_rms_epsilon') ?? 1e-5,
    rope_theta: metaNumber(file, 'llama.rope.freq_base') ?? 10000,
    rope_scaling: ropeScaling,
    hidden_act: 'silu',
    attention_bias: file.tensors.some((t) => t.name.endsWith('attn_q.bias')),
    mlp_bias: false,
    tie_word_embeddings: !file.tensors.some((t) => t.name === 'output.weight'),
    bos_token_id: id('bos_token_id') ?? null,
    eos_token_id: id('eos_token_id') ?? null,
    ...(id('padding_token_id') !== undefined ? { pad_token_id: id('padding_token_id') } : {}),
    initializer_range: 0.02,
    use_cache: true,
    torch_dtype: dtype,
  };
}
