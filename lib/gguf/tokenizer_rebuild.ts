// A Hugging Face tokenizer (tokenizer.json, tokenizer_config.json, generation_config.json) rebuilt from
// a GGUF's `tokenizer.ggml.*` metadata. Byte-level BPE (`tokenizer.ggml.model` = "gpt2"): the
// vocabulary and merges as stored, control tokens (type 3) as special added tokens, user-defined ones
// (type 4) as plain added tokens, and the pre-tokenizer llama.cpp uses for `tokenizer.ggml.pre`.
// SentencePiece vocabularies ("llama", "gemma"): see sentencepiece_tokenizer.ts.
import { GgufFormatError, metaNumber, metaString, type GgufFile } from './reader.js';
import { sentencePieceTokenizerJson } from './sentencepiece_tokenizer.js';
import { addedTokens, templateProcessing, tokenTypes } from './tokenizer_parts.js';

export { addedTokens, templateProcessing, tokenTypes };

const GPT2_REGEX_PRES = ['gpt2', 'mpt', 'olmo', 'jais', 'default'];
// llama.cpp splits single digits first, then applies the GPT-2 pattern (StarCoder family).
const DIGITS_THEN_GPT2_PRES = ['smollm', 'starcoder', 'refact', 'command-r', 'codeshell', 'exaone', 'minerva-7b'];
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// GPT-4o's (o200k) split: words with their case pattern and contractions, numbers of up to 3 digits (Phi-4-mini).
const LETTERS_UPPER = '[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]';
const LETTERS_LOWER = '[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]';
const CONTRACTIONS = "(?i:'s|'t|'re|'ve|'m|'ll|'d)?";
const GPT4O_SPLIT =
  `[^\\r\\n\\p{L}\\p{N}]?${LETTERS_UPPER}*${LETTERS_LOWER}+${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?${LETTERS_UPPER}+${LETTERS_LOWER}*${CONTRACTIONS}` +
  '|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';
const SPLIT_PRES: Record<string, string> = {
  'gpt-4o': GPT4O_SPLIT,
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

export function stringArray(file: GgufFile, key: string, required: boolean): string[] | undefined {
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

export const SUPPORTED_TOKENIZER_MODELS = ['gpt2', 'llama', 'gemma'];

export function rebuildTokenizer(file: GgufFile): RebuiltTokenizer {
  const model = metaString(file, 'tokenizer.ggml.model');
  if (!SUPPORTED_TOKENIZER_MODELS.includes(model ?? '')) {
    throw new GgufFormatError(
      `${file.path}: tokenizer.ggml.model ${JSON.stringify(model)} is not supported (supported: "gpt2" byte-level BPE, "llama"/"gemma" SentencePiece BPE)`,
    );
  }
  const tokens = stringArray(file, 'tokenizer.ggml.tokens', true)!;
  const tokenAt = (key: string): string | null => {
    const id = metaNumber(file, `tokenizer.ggml.${key}`);
    if (id === undefined) return null;
    const t = tokens[id];
    if (t === undefined) throw new GgufFormatError(`${file.path}: tokenizer.ggml.${key} ${id} is outside the vocabulary of ${tokens.length}`);
    return t;
  };
  const tokenizerJson = model === 'gpt2' ? byteLevelTokenizerJson(file, tokens, tokenAt) : sentencePieceTokenizerJson(file, tokens, tokenAt);
  return { tokenizerJson, ...tokenizerConfigs(file, tokenAt) };
}

function byteLevelTokenizerJson(file: GgufFile, tokens: string[], tokenAt: (key: string) => string | null): Record<string, unknown> {
  const merges = stringArray(file, 'tokenizer.ggml.merges', true)!;
  const types = tokenTypes(file);
  const pre = metaString(file, 'tokenizer.ggml.pre') ?? 'default';
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    if (!(t in vocab)) vocab[t] = i;
  });
  const byteLevelPost = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true };
  const template = templateProcessing(file, tokenAt, (t) => vocab[t]!);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(tokens, types),
    normalizer: null,
    pre_tokenizer: preTokenizerFor(pre, file.path),
    post_processor: template ? { type: 'Sequence', processors: [byteLevelPost, template] } : byteLevelPost,
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
}

function tokenizerConfigs(file: GgufFile, tokenAt: (key: string) => string | null): Omit<RebuiltTokenizer, 'tokenizerJson'> {
  const bos = tokenAt('bos_token_id');
  const eos = tokenAt('eos_token_id');
  const template = metaString(file, 'tokenizer.chat_template');
  const contextLength = metaNumber(file, `${metaString(file, 'general.architecture') ?? 'llama'}.context_length`);
  // Not "GPT2Tokenizer"/"LlamaTokenizer": transformers ≥ 5 would replace the pre-tokenizer and
  // normalizer with its own for those classes; tokenizer.json already says everything.
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: bos,
    eos_token: eos,
    ...(tokenAt('padding_token_id') !== null ? { pad_token: tokenAt('padding_token_id') } : {}),
    ...(tokenAt('unknown_token_id') !== null ? { unk_token: tokenAt('unknown_token_id') } : {}),
    add_bos_token: file.metadata.get('tokenizer.ggml.add_bos_token') === true,
    add_eos_token: file.metadata.get('tokenizer.ggml.add_eos_token') === true,
    clean_up_tokenization_spaces: false,
    ...(contextLength !== undefined ? { model_max_length: contextLength } : {}),
    ...(template !== undefined ? { chat_template: template } : {}),
  };
  // Generation stops at EOS and, where the file names them, end-of-turn / end-of-message tokens.
  const stopIds = [
    ...new Set(
      ['eos_token_id', 'eot_token_id', 'eom_token_id'].map((k) => metaNumber(file, `tokenizer.ggml.${k}`)).filter((v): v is number => v !== undefined),
    ),
  ];
  const generationConfig: Record<string, unknown> = {
    ...(metaNumber(file, 'tokenizer.ggml.bos_token_id') !== undefined ? { bos_token_id: metaNumber(file, 'tokenizer.ggml.bos_token_id') } : {}),
    ...(stopIds.length ? { eos_token_id: stopIds.length === 1 ? stopIds[0] : stopIds } : {}),
    ...(metaNumber(file, 'tokenizer.ggml.padding_token_id') !== undefined ? { pad_token_id: metaNumber(file, 'tokenizer.ggml.padding_token_id') } : {}),
  };
  return { tokenizerConfig, generationConfig };
}
