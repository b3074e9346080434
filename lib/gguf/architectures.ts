// llama.cpp architectures → Hugging Face: tensor names, value transforms and config.json, per
// `general.architecture`. Facts from llama.cpp's convert_hf_to_gguf.py and gguf-py (what each
// converter writes) and transformers' model configs (what each model class reads):
// - llama: Q/K rows permuted for llama.cpp's rope (undone on import, see rotary_permutation.ts).
// - qwen2, qwen3, gemma2, gemma3, phi3: rows stored as in Hugging Face (NeoX-style rope).
// - gemma2/gemma3: every RMSNorm weight is stored as 1 + w (llama.cpp's norm multiplies by the
//   weight; Gemma's by 1 + w), so 1 is subtracted; √hidden embedding scaling is not baked in.
// - phi3: fused qkv_proj and gate_up_proj are kept fused (GGUF attn_qkv / ffn_up); LongRoPE factors
//   are tensors in GGUF (rope_factors_long/short) and lists in config.json.
import { GgufFormatError, metaNumber, metaString, type GgufFile } from './reader.js';
import { llama3RopeScaling } from './llama3_rope.js';

export const SUPPORTED_ARCHITECTURES = ['llama', 'qwen2', 'qwen3', 'gemma2', 'gemma3', 'phi3'] as const;
export type GgufArchitecture = (typeof SUPPORTED_ARCHITECTURES)[number];

const ATTN = { attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj', attn_output: 'self_attn.o_proj' };
const MLP = { ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj' };
const QK_NORM = { attn_q_norm: 'self_attn.q_norm', attn_k_norm: 'self_attn.k_norm' };
const LLAMA_LAYER = { attn_norm: 'input_layernorm', ffn_norm: 'post_attention_layernorm', ...ATTN, ...MLP };
const GEMMA_LAYER = {
  attn_norm: 'input_layernorm',
  post_attention_norm: 'post_attention_layernorm',
  ffn_norm: 'pre_feedforward_layernorm',
  post_ffw_norm: 'post_feedforward_layernorm',
  ...ATTN,
  ...MLP,
};

/** Per-layer tensor stems (blk.N.<stem>) → Hugging Face module paths under model.layers.N. */
const LAYER_MAPS: Record<GgufArchitecture, Record<string, string>> = {
  llama: LLAMA_LAYER,
  qwen2: LLAMA_LAYER,
  qwen3: { ...LLAMA_LAYER, ...QK_NORM },
  gemma2: GEMMA_LAYER,
  gemma3: { ...GEMMA_LAYER, ...QK_NORM },
  phi3: {
    attn_norm: 'input_layernorm',
    attn_qkv: 'self_attn.qkv_proj',
    attn_output: 'self_attn.o_proj',
    ffn_norm: 'post_attention_layernorm',
    ffn_up: 'mlp.gate_up_proj',
    ffn_down: 'mlp.down_proj',
  },
};

const GLOBAL_MAP: Record<string, string> = {
  token_embd: 'model.embed_tokens',
  output_norm: 'model.norm',
  output: 'lm_head',
};

/** Tensors that become config.json entries rather than weights. */
const CONFIG_TENSORS: Partial<Record<GgufArchitecture, string[]>> = {
  llama: ['rope_freqs.weight'],
  phi3: ['rope_factors_long.weight', 'rope_factors_short.weight'],
};

export function architectureOf(file: GgufFile): GgufArchitecture {
  const arch = metaString(file, 'general.architecture');
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch ?? '')) {
    throw new GgufFormatError(`${file.path}: architecture ${JSON.stringify(arch)} is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`);
  }
  return arch as GgufArchitecture;
}

/** Whether a GGUF tensor is read into config.json instead of being written as a weight. */
export function isConfigTensor(arch: GgufArchitecture, ggufName: string): boolean {
  return CONFIG_TENSORS[arch]?.includes(ggufName) ?? false;
}

/** The Hugging Face name of a llama.cpp tensor; throws for names this architecture's mapping does not know. */
export function hfTensorName(ggufName: string, arch: GgufArchitecture = 'llama'): string {
  const layerMap = LAYER_MAPS[arch];
  const m = /^(.+)\.(weight|bias)$/.exec(ggufName);
  if (m) {
    const [, stem, kind] = m as unknown as [string, string, string];
    const layer = /^blk\.(\d+)\.(\w+)$/.exec(stem);
    if (layer) {
      const target = layerMap[layer[2]!];
      if (target) return `model.layers.${layer[1]}.${target}.${kind}`;
    } else if (GLOBAL_MAP[stem]) {
      return `${GLOBAL_MAP[stem]}.${kind}`;
    }
  }
  throw new GgufFormatError(
    `tensor ${ggufName} has no Hugging Face ${arch} equivalent (known: ${Object.keys(GLOBAL_MAP).join(', ')}, blk.N.{${Object.keys(layerMap).join(',')}})`,
  );
}

/** Whether Q/K rows carry llama.cpp's rotary permutation. */
export const permutesRotaryRows = (arch: GgufArchitecture): boolean => arch === 'llama';

/** Stored-value offset to undo on import: Gemma's norms are stored as 1 + w. */
export function normShift(arch: GgufArchitecture, ggufName: string): number {
  return (arch === 'gemma2' || arch === 'gemma3') && ggufName.endsWith('norm.weight') ? 1 : 0;
}

export interface ModelDims {
  arch: GgufArchitecture;
  hiddenSize: number;
  nLayers: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  vocabSize: number;
}

function required(file: GgufFile, key: string): number {
  const v = metaNumber(file, key);
  if (v === undefined) throw new GgufFormatError(`${file.path}: metadata ${key} is missing; it is needed for config.json`);
  return v;
}

/** A per-model scalar that some converters write per layer (an array); only uniform values map to config.json. */
function uniform(file: GgufFile, key: string): number | undefined {
  const v = file.metadata.get(key);
  if (Array.isArray(v)) {
    if (v.length && v.every((x) => x === v[0]) && typeof v[0] === 'number') return v[0];
    throw new GgufFormatError(`${file.path}: metadata ${key} differs between layers; per-layer sizes are not supported`);
  }
  return metaNumber(file, key);
}

export function modelDims(file: GgufFile): ModelDims {
  const arch = architectureOf(file);
  const a = (k: string) => `${arch}.${k}`;
  const nHead = required(file, a('attention.head_count'));
  const hiddenSize = required(file, a('embedding_length'));
  // The embedding's rows are what transformers must load; converters may pad the token list.
  const embd = file.tensors.find((t) => t.name === 'token_embd.weight');
  const tokens = file.metadata.get('tokenizer.ggml.tokens');
  const vocabSize = embd?.dims[1] ?? metaNumber(file, a('vocab_size')) ?? (Array.isArray(tokens) ? tokens.length : undefined);
  if (vocabSize === undefined) throw new GgufFormatError(`${file.path}: cannot tell the vocabulary size (no token_embd.weight, ${a('vocab_size')} or tokens)`);
  const headDim =
    metaNumber(file, a('attention.key_length')) ?? (arch === 'llama' ? metaNumber(file, a('rope.dimension_count')) : undefined) ?? hiddenSize / nHead;
  return {
    arch,
    hiddenSize,
    nLayers: required(file, a('block_count')),
    nHead,
    nHeadKv: uniform(file, a('attention.head_count_kv')) ?? nHead,
    headDim,
    vocabSize,
  };
}

/** rope_scaling for config.json from `{arch}.rope.scaling.*` (linear and YaRN; none → null). */
function ropeScaling(file: GgufFile, arch: string): Record<string, unknown> | null {
  const type = metaString(file, `${arch}.rope.scaling.type`);
  if (!type || type === 'none') return null;
  const factor = metaNumber(file, `${arch}.rope.scaling.factor`);
  if (factor === undefined) throw new GgufFormatError(`${file.path}: ${arch}.rope.scaling.type is ${type} but ${arch}.rope.scaling.factor is missing`);
  if (type === 'linear') return { rope_type: 'linear', factor };
  if (type === 'yarn') {
    const orig = metaNumber(file, `${arch}.rope.scaling.original_context_length`);
    return { rope_type: 'yarn', factor, ...(orig !== undefined ? { original_max_position_embeddings: orig } : {}) };
  }
  throw new GgufFormatError(`${file.path}: rope scaling ${type} is not supported (linear, yarn)`);
}

/** Which layers use sliding-window attention: `{arch}.attention.sliding_window_pattern` (a period n, every n-th layer global, or one bool per layer), else the architecture's fixed period. */
function slidingLayers(file: GgufFile, arch: string, nLayers: number, defaultPeriod: number): boolean[] {
  const key = `${arch}.attention.sliding_window_pattern`;
  const v = file.metadata.get(key);
  if (Array.isArray(v)) {
    if (v.length !== nLayers || v.some((x) => typeof x !== 'boolean'))
      throw new GgufFormatError(`${file.path}: ${key} must hold one boolean per layer (${nLayers})`);
    return v as boolean[];
  }
  const period = v === undefined ? defaultPeriod : metaNumber(file, key)!;
  return Array.from({ length: nLayers }, (_, i) => period > 0 && (i + 1) % period !== 0);
}

function floatTensor(file: GgufFile, name: string, read: (name: string) => Float32Array): number[] | undefined {
  return file.tensors.some((t) => t.name === name) ? [...read(name)] : undefined;
}

/**
 * config.json for the file's architecture. `readTensor` dequantizes a tensor by GGUF name (used for
 * Phi-3's LongRoPE factors).
 */
export function hfConfig(file: GgufFile, dtype: 'bfloat16' | 'float32', readTensor: (name: string) => Float32Array): Record<string, unknown> {
  const d = modelDims(file);
  const common = commonConfig(file, d, dtype);
  const x: ArchInput = { file, d, common, slidingWindow: metaNumber(file, `${d.arch}.attention.sliding_window`), readTensor };
  switch (d.arch) {
    case 'llama':
      return llamaConfig(x);
    case 'qwen2':
    case 'qwen3':
      return qwenConfig(x);
    case 'gemma2':
    case 'gemma3':
      return gemmaConfig(x);
    case 'phi3':
      return phi3Config(x);
  }
}

/** The config.json entries every architecture has, in transformers' names. */
function commonConfig(file: GgufFile, d: ModelDims, dtype: 'bfloat16' | 'float32') {
  const a = (k: string) => `${d.arch}.${k}`;
  const id = (k: string) => metaNumber(file, `tokenizer.ggml.${k}`);
  return {
    vocab_size: d.vocabSize,
    hidden_size: d.hiddenSize,
    intermediate_size: uniform(file, a('feed_forward_length')) ?? required(file, a('feed_forward_length')),
    num_hidden_layers: d.nLayers,
    num_attention_heads: d.nHead,
    num_key_value_heads: d.nHeadKv,
    max_position_embeddings: required(file, a('context_length')),
    rms_norm_eps: metaNumber(file, a('attention.layer_norm_rms_epsilon')) ?? 1e-6,
    rope_theta: metaNumber(file, a('rope.freq_base')) ?? 10000,
    tie_word_embeddings: !file.tensors.some((t) => t.name === 'output.weight'),
    bos_token_id: id('bos_token_id') ?? null,
    eos_token_id: id('eos_token_id') ?? null,
    ...(id('padding_token_id') !== undefined ? { pad_token_id: id('padding_token_id') } : {}),
    initializer_range: 0.02,
    attention_dropout: 0,
    use_cache: true,
    torch_dtype: dtype,
  };
}

/** What each architecture's config.json is made from. */
interface ArchInput {
  file: GgufFile;
  d: ModelDims;
  common: ReturnType<typeof commonConfig>;
  /** `{arch}.attention.sliding_window`, where the file has it. */
  slidingWindow: number | undefined;
  readTensor: (name: string) => Float32Array;
}

const hasTensor = (file: GgufFile, suffix: string) => file.tensors.some((t) => t.name.endsWith(suffix));

function llamaConfig({ file, d, common, readTensor }: ArchInput): Record<string, unknown> {
  const a = (k: string) => `${d.arch}.${k}`;
  let scaling = ropeScaling(file, d.arch);
  if (scaling && scaling.rope_type !== 'linear')
    throw new GgufFormatError(`${file.path}: llama rope scaling ${String(scaling.rope_type)} is not supported (only linear)`);
  const freqs = floatTensor(file, 'rope_freqs.weight', readTensor);
  if (freqs) {
    if (scaling) throw new GgufFormatError(`${file.path}: both ${a('rope.scaling.type')} and rope_freqs.weight are set`);
    scaling = {
      ...llama3RopeScaling(
        freqs,
        common.rope_theta,
        metaNumber(file, a('rope.dimension_count')) ?? d.headDim,
        file.path,
        metaNumber(file, a('rope.scaling.original_context_length')),
      ),
    };
  }
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    ...common,
    head_dim: d.headDim,
    rms_norm_eps: metaNumber(file, a('attention.layer_norm_rms_epsilon')) ?? 1e-5,
    rope_scaling: scaling,
    hidden_act: 'silu',
    attention_bias: hasTensor(file, 'attn_q.bias'),
    mlp_bias: false,
  };
}

function qwenConfig({ file, d, common, slidingWindow }: ArchInput): Record<string, unknown> {
  const { arch } = d;
  return {
    architectures: [arch === 'qwen2' ? 'Qwen2ForCausalLM' : 'Qwen3ForCausalLM'],
    model_type: arch,
    ...common,
    ...(arch === 'qwen3' ? { head_dim: d.headDim, attention_bias: hasTensor(file, 'attn_q.bias') } : {}),
    rope_scaling: ropeScaling(file, arch),
    hidden_act: 'silu',
    use_sliding_window: false,
    sliding_window: slidingWindow ?? null,
    max_window_layers: d.nLayers,
  };
}

function gemmaConfig({ file, d, common, slidingWindow }: ArchInput): Record<string, unknown> {
  const { arch } = d;
  const a = (k: string) => `${arch}.${k}`;
  // llama.cpp scales queries by 1/√(hidden/heads) for the 27B models (46 and 62 layers) and by
  // 1/√head_dim otherwise; transformers reads the same choice from query_pre_attn_scalar.
  const bigLayers = arch === 'gemma2' ? 46 : 62;
  const queryPreAttnScalar = d.nLayers === bigLayers ? d.hiddenSize / d.nHead : d.headDim;
  const period = arch === 'gemma2' ? 2 : 6;
  const sliding = slidingLayers(file, arch, d.nLayers, period);
  const patternKey = file.metadata.get(a('attention.sliding_window_pattern'));
  const softcap = (k: string) => metaNumber(file, a(k)) ?? null;
  return {
    architectures: [arch === 'gemma2' ? 'Gemma2ForCausalLM' : 'Gemma3ForCausalLM'],
    model_type: arch === 'gemma2' ? 'gemma2' : 'gemma3_text',
    ...common,
    head_dim: d.headDim,
    hidden_activation: 'gelu_pytorch_tanh',
    hidden_act: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: queryPreAttnScalar,
    sliding_window: slidingWindow ?? 4096,
    layer_types: sliding.map((s) => (s ? 'sliding_attention' : 'full_attention')),
    attn_logit_softcapping: softcap('attn_logit_softcapping'),
    final_logit_softcapping: softcap('final_logit_softcapping'),
    attention_bias: false,
    ...(arch === 'gemma3'
      ? {
          rope_local_base_freq: metaNumber(file, a('rope.freq_base_swa')) ?? 10000,
          sliding_window_pattern: typeof patternKey === 'number' ? patternKey : period,
          rope_scaling: ropeScaling(file, arch),
        }
      : {}),
  };
}

function phi3Config({ file, d, common, slidingWindow, readTensor }: ArchInput): Record<string, unknown> {
  const a = (k: string) => `${d.arch}.${k}`;
  if (!hasTensor(file, 'attn_qkv.weight')) throw new GgufFormatError(`${file.path}: phi3 without fused attn_qkv tensors is not supported`);
  const ropeDim = metaNumber(file, a('rope.dimension_count')) ?? d.headDim;
  const long = floatTensor(file, 'rope_factors_long.weight', readTensor);
  const short = floatTensor(file, 'rope_factors_short.weight', readTensor);
  const orig = metaNumber(file, a('rope.scaling.original_context_length')) ?? common.max_position_embeddings;
  if ((long === undefined) !== (short === undefined)) throw new GgufFormatError(`${file.path}: phi3 has only one of rope_factors_long/rope_factors_short`);
  return {
    architectures: ['Phi3ForCausalLM'],
    model_type: 'phi3',
    ...common,
    rms_norm_eps: metaNumber(file, a('attention.layer_norm_rms_epsilon')) ?? 1e-5,
    original_max_position_embeddings: orig,
    rope_scaling: long && short ? { type: 'longrope', long_factor: long, short_factor: short } : null,
    partial_rotary_factor: ropeDim / d.headDim,
    sliding_window: slidingWindow ?? null,
    hidden_act: 'silu',
    resid_pdrop: 0,
    embd_pdrop: 0,
  };
}
