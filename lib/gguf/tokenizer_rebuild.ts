// A Hugging Face tokenizer (tokenizer.json, tokenizer_config.json, generation_config.json) rebuilt from
// a GGUF's `tokenizer.ggml.*` metadata. Byte-level BPE (`tokenizer.ggml.model` = "gpt2") only: the
// vocabulary and merges as stored, control tokens (type 3) as special added tokens, user-defined ones
// (type 4) as plain added tokens, and the pre-tokenizer llama.cpp uses for `tokenizer.ggml.pre`.
import { GgufFormatError, metaNumber, metaString, type GgufFile } from './reader.js';

const GPT2_REGEX_PRES = ['gpt2', 'mpt', 'olmo', 'jais', 'default'];
// llama.cpp splits single digits first, then applies the GPT-2 pattern (StarCoder family).
const DIGITS_THEN_GPT2_PRES = ['smollm', 'starcoder', 'refact', 'command-r', 'codeshell', 'exaone', 'minerva-7b'];
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const SPLIT_PRES: Record<string, string> = {
  llama3: LLAMA3_SPLIT,
  'llama-v3': LLAMA3_SPLIT,
  'llama-bpe': LLAMA3_SPLIT,
  'smaug-bpe': LLAMA3_SPLIT,
  falcon3: LLAMA3_SPLIT,
  qwen2: QWEN2_SPLIT,
  'deepseek-r1-qwen': QWEN2_SPLIT,
};
export const SUPPORTED_PRE_TOKENIZERS = [...GPT2_REGEX_PRES, ...DIGITS_THEN_GPT2_PRES, ...Object.keys(SPLIT_PRES)];

const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });

function preTokenizerFor(pre: string, path: string): Record<string, unknown> {
  if (GPT2_REGEX_PRES.includes(pre)) return byteLevel(true);
  if (DIGITS_THEN_GPT2_PRES.includes(pre)) {
    return { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] };
  }
  const split = SPLIT_PRES[pre];
  if (split) {
    return {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: split }, behavior: 'Isolated', invert: false }, byteLevel(false)],
    };
  }
  throw new GgufFormatError(`${path}: tokenizer.ggml.pre ${JSON.stringify(pre)} is not supported (supported: ${SUPPORTED_PRE_TOKENIZERS.join(', ')})`);
}

function stringArray(file: GgufFile, key: string, required: boolean): string[] | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) {
    if (required) throw new GgufFormatError(`${file.path}: metadata ${key} is missing; the tokenizer cannot be rebuilt`);
    return undefined;
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new GgufFormatError(`${file.path}: metadata ${key} must be an array of strings`);
  return v as string[];
}

export interface RebuiltTokenizer {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
}

export function rebuildTokenizer(file: GgufFile): RebuiltTokenizer {
  const model = metaString(file, 'tokenizer.ggml.model');
  if (model !== 'gpt2') {
    throw new GgufFormatError(`${file.path}: tokenizer.ggml.model ${JSON.stringify(model)} is not supported (only "gpt2", byte-level BPE; sentencepiece "llama" vocabularies are not yet)`);
  }
  const tokens = stringArray(file, 'tokenizer.ggml.tokens', true)!;
  const merges = stringArray(file, 'tokenizer.ggml.merges', true)!;
  const typesRaw = file.metadata.get('tokenizer.ggml.token_type');
  const types = Array.isArray(typesRaw) ? (typesRaw as number[]) : [];
  const pre = metaString(file, 'tokenizer.ggml.pre') ?? 'default';
  const addBos = file.metadata.get('tokenizer.ggml.add_bos_token') === true;
  const addEos = file.metadata.get('tokenizer.ggml.add_eos_token') === true;
  const tokenAt = (key: string): string | null => {
    const id = metaNumber(file, `tokenizer.ggml.${key}`);
    if (id === undefined) return null;
    const t = tokens[id];
    if (t === undefined) throw new GgufFormatError(`${file.path}: tokenizer.ggml.${key} ${id} is outside the vocabulary of ${tokens.length}`);
    return t;
  };
  const bos = tokenAt('bos_token_id');
  const eos = tokenAt('eos_token_id');

  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    if (!(t in vocab)) vocab[t] = i;
  });
  const addedTokens = tokens.flatMap((content, id) =>
    types[id] === 3 || types[id] === 4
      ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[id] === 3 }]
      : [],
  );
  const special = (t: string) => ({ id: t, ids: [vocab[t]!], tokens: [t] });
  const single = [...(addBos && bos ? [{ SpecialToken: { id: bos, type_id: 0 } }] : []), { Sequence: { id: 'A', type_id: 0 } }, ...(addEos && eos ? [{ SpecialToken: { id: eos, type_id: 0 } }] : [])];
  const pair = [...single, ...(addBos && bos ? [{ SpecialToken: { id: bos, type_id: 1 } }] : []), { Sequence: { id: 'B', type_id: 1 } }, ...(addEos && eos ? [{ SpecialToken: { id: eos, type_id: 1 } }] : [])];
  const byteLevelPost = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true };
  const postProcessor =
    (addBos && bos) || (addEos && eos)
      ? {
          type: 'Sequence',
          processors: [
            byteLevelPost,
            {
              type: 'TemplateProcessing',
              single,
              pair,
              special_tokens: Object.fromEntries([bos, eos].filter((t): t is string => t !== null).map((t) => [t, special(t)])),
            },
          ],
        }
      : byteLevelPost;
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: preTokenizerFor(pre, file.path),
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: pre in SPLIT_PRES && pre !== 'qwen2' && pre !== 'deepseek-r1-qwen',
      vocab,
      merges,
    },
  };

  const template = metaString(file, 'tokenizer.chat_template');
  const contextLength = metaNumber(file, `${metaString(file, 'general.architecture') ?? 'llama'}.context_length`);
  // Not "GPT2Tokenizer": transformers ≥ 5 would replace the pre-tokenizer with GPT-2's for that class.
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: bos,
    eos_token: eos,
    ...(tokenAt('padding_token_id') !== null ? { pad_token: tokenAt('padding_token_id') } : {}),
    ...(tokenAt('unknown_token_id') !== null ? { unk_token: tokenAt('unknown_token_id') } : {}),
    add_bos_token: addBos,
    add_eos_token: addEos,
    clean_up_tokenization_spaces: false,
    ...(contextLength !== undefined ? { model_max_length: contextLength } : {}),
    ...(template !== undefined ? { chat_template: template } : {}),
  };
  // Generation stops at EOS and, where the file names them, end-of-turn / end-of-message tokens.
  const stopIds = [...new Set(['eos_token_id', 'eot_token_id', 'eom_token_id'].map((k) => metaNumber(file, `tokenizer.ggml.${k}`)).filter((v): v is number => v !== undefined))];
  const generationConfig: Record<string, unknown> = {
    ...(metaNumber(file, 'tokenizer.ggml.bos_token_id') !== undefined ? { bos_token_id: metaNumber(file, 'tokenizer.ggml.bos_token_id') } : {}),
    ...(stopIds.length ? { eos_token_id: stopIds.length === 1 ? stopIds[0] : stopIds } : {}),
    ...(metaNumber(file, 'tokenizer.ggml.padding_token_id') !== undefined ? { pad_token_id: metaNumber(file, 'tokenizer.ggml.padding_token_id') } : {}),
  };
  return { tokenizerJson, tokenizerConfig, generationConfig };
}
