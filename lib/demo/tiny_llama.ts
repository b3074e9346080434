// A small Llama-architecture model made from scratch: config.json, random float32 weights in
// model.safetensors with Hugging Face names, and the byte-level tokenizer — a directory that
// `transformers.AutoModelForCausalLM.from_pretrained` and rdpo-native both load.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeSafetensors, type SafetensorsEntry } from '../model/safetensors_writer.js';
import { SeededRandom } from '../util/random.js';
import { byteTokenizerFiles } from './byte_tokenizer.js';

export interface TinyLlamaShape {
  hiddenSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediateSize: number;
  maxPositions: number;
}

export const DEMO_SHAPE: TinyLlamaShape = { hiddenSize: 128, layers: 4, heads: 4, kvHeads: 2, intermediateSize: 352, maxPositions: 512 };

export function createTinyLlama(dir: string, shape: TinyLlamaShape = DEMO_SHAPE, seed = 0): { parameters: number } {
  const tok = byteTokenizerFiles();
  const vocab = tok.vocabSize;
  const { hiddenSize: h, layers, heads, kvHeads, intermediateSize: ff } = shape;
  const headDim = h / heads;
  if (!Number.isInteger(headDim) || heads % kvHeads !== 0) throw new RangeError('hidden size must divide by heads, heads by kv heads');
  const rng = new SeededRandom(seed);
  const tensors = new Map<string, SafetensorsEntry>();
  let parameters = 0;
  const normal = (name: string, shapeDims: number[], std = 0.02) => {
    const n = shapeDims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    tensors.set(name, { dtype: 'F32', shape: shapeDims, data });
    parameters += n;
  };
  const ones = (name: string, n: number) => {
    tensors.set(name, { dtype: 'F32', shape: [n], data: new Float32Array(n).fill(1) });
    parameters += n;
  };
  normal('model.embed_tokens.weight', [vocab, h]);
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    normal(`${p}.self_attn.q_proj.weight`, [heads * headDim, h]);
    normal(`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, h]);
    normal(`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, h]);
    // Scaled like GPT-2's residual projections so a deep stack starts stable.
    normal(`${p}.self_attn.o_proj.weight`, [h, heads * headDim], 0.02 / Math.sqrt(2 * layers));
    normal(`${p}.mlp.gate_proj.weight`, [ff, h]);
    normal(`${p}.mlp.up_proj.weight`, [ff, h]);
    normal(`${p}.mlp.down_proj.weight`, [h, ff], 0.02 / Math.sqrt(2 * layers));
    ones(`${p}.input_layernorm.weight`, h);
    ones(`${p}.post_attention_layernorm.weight`, h);
  }
  ones('model.norm.weight', h);

  mkdirSync(dir, { recursive: true });
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: vocab,
    hidden_size: h,
    intermediate_size: ff,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    hidden_act: 'silu',
    max_position_embeddings: shape.maxPositions,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    rope_scaling: null,
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: true,
    bos_token_id: null,
    eos_token_id: tok.ids.imEnd,
    pad_token_id: tok.ids.eos,
    torch_dtype: 'float32',
    initializer_range: 0.02,
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileSync(
    path.join(dir, 'generation_config.json'),
    JSON.stringify({ eos_token_id: [tok.ids.imEnd, tok.ids.eos], pad_token_id: tok.ids.eos }, null, 2) + '\n',
  );
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig, null, 2) + '\n');
  writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify(tok.specialTokensMap, null, 2) + '\n');
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return { parameters };
}
