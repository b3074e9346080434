// A Hugging Face tokenizer directory (tokenizer.json + tokenizer_config.json, optionally
// special_tokens_map.json, generation_config.json, chat_template.jinja) behind a small typed API.
// Encoding follows Python `transformers` (checked against AutoTokenizer ids in test/tokenizer.test.ts).
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { catastrophicTokenizerRegex } from './regex_backtracking.js';
import { byteLevelTokenBytes, sentencePieceTokenBytes } from './token_bytes.js';

/** A tokenizer directory that is missing a file or has one we cannot use. */
export class TokenizerLoadError extends Error {
  override name = 'TokenizerLoadError';
}

export interface EncodeOptions {
  /** Add what the tokenizer's post-processor adds (e.g. Llama-3's BOS). Default true, as `tok(text)` in Python. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

type JsonObject = Record<string, unknown>;

/** The special-token names templates and trainers use. */
export interface SpecialTokens {
  bos_token: string | null;
  eos_token: string | null;
  pad_token: string | null;
  unk_token: string | null;
}

function readJson(file: string, required: boolean): JsonObject | null {
  if (!existsSync(file)) {
    if (required) throw new TokenizerLoadError(`${file} does not exist: a tokenizer directory needs tokenizer.json and tokenizer_config.json`);
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TokenizerLoadError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TokenizerLoadError(`${file} must hold a JSON object`);
  }
  return parsed as JsonObject;
}

/** A special token is written either as its text or as an AddedToken object `{content, ...}`. */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as JsonObject).content === 'string') return (v as JsonObject).content as string;
  return null;
}

/** `chat_template` is a string, or a list of `{name, template}` of which "default" is the chat one. */
function pickChatTemplate(v: unknown, where: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const entries = v as { name?: unknown; template?: unknown }[];
    const def = entries.find((e) => e && e.name === 'default') ?? entries[0];
    if (def && typeof def.template === 'string') return def.template;
  }
  throw new TokenizerLoadError(`${where}: chat_template must be a string or a list of {name, template}`);
}

export interface TokenizerSources {
  tokenizerJson: JsonObject;
  tokenizerConfig: JsonObject;
  specialTokensMap?: JsonObject | null;
  generationConfig?: JsonObject | null;
  /** A chat template that overrides tokenizer_config.json's (chat_template.jinja). */
  chatTemplate?: string | null;
  /** For error messages. */
  origin?: string;
}

export class Tokenizer {
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly unkToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** Every id that ends generation: the tokenizer's EOS and generation_config.json's `eos_token_id` (one or a list). */
  readonly eosTokenIds: number[];
  readonly chatTemplate: string | null;
  /** Where it was loaded from (a directory), for messages. */
  readonly origin: string;
  private readonly hf: HfTokenizer;
  private readonly cleanUpSpaces: boolean;
  /** How tokenBytes reads a vocabulary string: byte-level BPE, or SentencePiece-style. */
  private readonly byteLevelDecoder: boolean;

  constructor(src: TokenizerSources) {
    this.origin = src.origin ?? '<memory>';
    const cfg = { ...(src.specialTokensMap ?? {}), ...src.tokenizerConfig };
    // tokenizers.js applies clean_up_tokenization_spaces itself; transformers ≥ 5 ignores it for BPE models.
    const modelType = (src.tokenizerJson.model as JsonObject | undefined)?.type;
    this.cleanUpSpaces = cfg.clean_up_tokenization_spaces === true && modelType !== 'BPE';
    const catastrophic = catastrophicTokenizerRegex(src.tokenizerJson, join(this.origin, 'tokenizer.json'));
    if (catastrophic !== undefined) throw new TokenizerLoadError(catastrophic);
    this.byteLevelDecoder = JSON.stringify(src.tokenizerJson.decoder ?? null).includes('"ByteLevel"');
    try {
      this.hf = new HfTokenizer(src.tokenizerJson, { ...cfg, clean_up_tokenization_spaces: this.cleanUpSpaces });
    } catch (err) {
      throw new TokenizerLoadError(`${this.origin}: cannot build the tokenizer: ${(err as Error).message}`);
    }
    const idOf = (t: string | null): number | null => (t === null ? null : (this.hf.token_to_id(t) ?? null));
    this.bosToken = tokenText(cfg.bos_token);
    this.eosToken = tokenText(cfg.eos_token);
    this.padToken = tokenText(cfg.pad_token);
    this.unkToken = tokenText(cfg.unk_token);
    for (const [key, tok] of [
      ['bos_token', this.bosToken],
      ['eos_token', this.eosToken],
      ['pad_token', this.padToken],
    ] as const) {
      if (tok !== null && idOf(tok) === null) {
        throw new TokenizerLoadError(`${this.origin}: ${key} ${JSON.stringify(tok)} is not in the vocabulary of tokenizer.json`);
      }
    }
    this.bosTokenId = idOf(this.bosToken);
    this.eosTokenId = idOf(this.eosToken);
    this.padTokenId = idOf(this.padToken);
    const eos = new Set<number>();
    if (this.eosTokenId !== null) eos.add(this.eosTokenId);
    const genEos = src.generationConfig?.eos_token_id;
    for (const id of Array.isArray(genEos) ? genEos : genEos === undefined || genEos === null ? [] : [genEos]) {
      if (typeof id !== 'number' || !Number.isInteger(id)) {
        throw new TokenizerLoadError(`${this.origin}: generation_config.json eos_token_id must be an integer or a list of integers`);
      }
      eos.add(id);
    }
    this.eosTokenIds = [...eos];
    this.chatTemplate = src.chatTemplate ?? pickChatTemplate(cfg.chat_template, `${this.origin}/tokenizer_config.json`);
  }

  /** Load a tokenizer directory as saved by `transformers` (`save_pretrained`) or by `rdpo-native import-gguf`. */
  static load(dir: string): Tokenizer {
    const tokenizerJson = readJson(join(dir, 'tokenizer.json'), true)!;
    const tokenizerConfig = readJson(join(dir, 'tokenizer_config.json'), true)!;
    const templateFile = join(dir, 'chat_template.jinja');
    return new Tokenizer({
      tokenizerJson,
      tokenizerConfig,
      specialTokensMap: readJson(join(dir, 'special_tokens_map.json'), false),
      generationConfig: readJson(join(dir, 'generation_config.json'), false),
      chatTemplate: existsSync(templateFile) ? readFileSync(templateFile, 'utf8') : null,
      origin: dir,
    });
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /**
   * The bytes one token stands for (its text may be U+FFFD when it holds part of a character).
   * Added tokens and unknown schemes give the UTF-8 of their decoded text.
   */
  tokenBytes(id: number): number[] {
    const piece = this.idToToken(id);
    if (piece !== undefined) {
      if (this.byteLevelDecoder) {
        const bytes = byteLevelTokenBytes(piece);
        if (bytes !== null) return bytes;
      } else if (/^<0x[0-9A-Fa-f]{2}>$/.test(piece) || piece.includes('\u2581')) {
        return sentencePieceTokenBytes(piece);
      }
    }
    return [...Buffer.from(this.decode([id]), 'utf8')];
  }

  /** Number of ids (vocabulary plus added tokens). */
  get vocabSize(): number {
    return this.hf.get_vocab(true).size;
  }

  /** The values chat templates read as `bos_token`, `eos_token`, … */
  get specialTokens(): SpecialTokens {
    return { bos_token: this.bosToken, eos_token: this.eosToken, pad_token: this.padToken, unk_token: this.unkToken };
  }
}
