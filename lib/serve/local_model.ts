// A model directory (config.json, safetensors weights, tokenizer files) as the ChatEngine's TextModel:
// the tokenizer's chat template in, CausalLM.generate for the tokens, the tokenizer's decode out.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { ChatMessage } from '../data/schema.js';
import { UsageError } from '../errors.js';
import { type ModelDtype } from '../model/causal_lm.js';
import { loadModelWithAdapter } from '../model/lora.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { applyChatTemplate } from '../tokenize/chat_template.js';
import type { GenerateSettings, TextModel } from './chat_engine.js';

const MODEL_DTYPES: readonly ModelDtype[] = ['float32', 'bfloat16', 'float16'];
const isModelDtype = (v: string): v is ModelDtype => (MODEL_DTYPES as readonly string[]).includes(v);

export interface LocalModelOptions {
  dtype?: string;
  device?: string;
  /** A PEFT LoRA adapter directory put on the model. */
  adapter?: string;
}

export async function loadLocalModel(dir: string, options: LocalModelOptions = {}): Promise<TextModel> {
  for (const file of ['config.json', 'tokenizer.json']) {
    if (!existsSync(join(dir, file))) {
      throw new UsageError(`${dir} is not a model directory: ${file} is missing (expected config.json, *.safetensors and the tokenizer files)`);
    }
  }
  const tokenizer = Tokenizer.load(dir);
  if (tokenizer.eosTokenIds.length === 0) {
    throw new UsageError(`${dir}: the tokenizer names no end-of-sequence token, so generation could not stop; set eos_token in tokenizer_config.json`);
  }
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { max_position_embeddings?: unknown; n_positions?: unknown };
  const maxContext = [config.max_position_embeddings, config.n_positions].find((v): v is number => typeof v === 'number');
  const dtype = options.dtype;
  if (dtype !== undefined && !isModelDtype(dtype)) throw new UsageError(`--dtype must be one of ${MODEL_DTYPES.join(', ')} (got "${dtype}")`);
  const lm = await loadModelWithAdapter(dir, options.adapter, {
    ...(dtype !== undefined && isModelDtype(dtype) ? { dtype } : {}),
    ...(options.device !== undefined ? { device: options.device } : {}),
  });
  const eos = [...tokenizer.eosTokenIds];
  return {
    id: basename(resolve(dir)),
    eosTokenIds: eos,
    ...(maxContext !== undefined ? { maxContext } : {}),
    encodeChat: (messages: ChatMessage[]) => applyChatTemplate(tokenizer, messages, { addGenerationPrompt: true }),
    decode: (ids: number[]) => tokenizer.decode(ids, { skipSpecialTokens: true }),
    generate: (prompts: number[][], s: GenerateSettings) =>
      lm.generate(prompts, {
        maxNewTokens: s.maxNewTokens,
        temperature: s.temperature,
        topP: s.topP,
        topK: s.topK,
        ...(s.seed !== undefined ? { seed: s.seed } : {}),
        eosTokenIds: s.eosTokenIds,
      }),
    dispose: () => lm.dispose(),
  };
}
