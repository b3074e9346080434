// A SentencePiece BPE vocabulary (`tokenizer.ggml.model` "llama" — Llama 2, Mistral v0.1, Phi-3 —
// or Gemma's) as a Hugging Face tokenizer.json: a BPE model with byte fallback whose merges are
// recovered from the vocabulary. SentencePiece merges the adjacent pair whose result scores best; a
// BPE model does the same when its merges are ranked by the result's score. GGUF stores no merges for
// these vocabularies, so every split of a piece into two pieces of the vocabulary becomes a merge,
// ranked by the piece's score (Gemma: by its position in the file, which is its merge order; Gemma's
// scores do not follow it). Spaces become "▁"; Llama-style vocabularies also prepend one
// (`tokenizer.ggml.add_space_prefix`, default true except for Gemma), like SentencePiece's dummy prefix.
import { GgufFormatError, metaString, type GgufFile } from './reader.js';
import { addedTokens, templateProcessing, tokenTypes } from './tokenizer_parts.js';

const SPACE = '\u2581';
const NORMAL = 1;

export function sentencePieceTokenizerJson(file: GgufFile, tokens: readonly string[], tokenAt: (key: string) => string | null): Record<string, unknown> {
  const model = metaString(file, 'tokenizer.ggml.model');
  const gemma = model === 'gemma' || (metaString(file, 'general.architecture') ?? '').startsWith('gemma');
  const types = tokenTypes(file);
  // Gemma files spell whitespace-only pieces with real spaces; text reaches the model with "▁".
  const pieces = gemma ? tokens.map((t) => (/^ +$/.test(t) ? SPACE.repeat(t.length) : t)) : [...tokens];
  const prefixRaw = file.metadata.get('tokenizer.ggml.add_space_prefix');
  const addSpacePrefix = typeof prefixRaw === 'boolean' ? prefixRaw : !gemma;

  const vocab = new Map<string, number>();
  pieces.forEach((t, i) => {
    if (!vocab.has(t)) vocab.set(t, i);
  });
  const scoresRaw = file.metadata.get('tokenizer.ggml.scores');
  let priority: (id: number) => number = (id) => -id;
  if (!gemma && scoresRaw !== undefined) {
    if (!Array.isArray(scoresRaw) || scoresRaw.length !== tokens.length || scoresRaw.some((x) => typeof x !== 'number')) {
      throw new GgufFormatError(`${file.path}: tokenizer.ggml.scores must hold one number per token (${tokens.length})`);
    }
    const scores = scoresRaw as number[];
    priority = (id) => scores[id]!;
  }
  const ranked = pieces
    .map((_, id) => id)
    .filter((id) => (types[id] ?? NORMAL) === NORMAL && vocab.get(pieces[id]!) === id)
    .sort((a, b) => priority(b) - priority(a) || a - b);
  const merges: [string, string][] = [];
  for (const id of ranked) {
    const piece = pieces[id]!;
    const splits: [number, number, string, string][] = [];
    // Split between code points (a surrogate pair is one character).
    for (let k = 1; k < piece.length; k++) {
      const c = piece.charCodeAt(k);
      if (c >= 0xdc00 && c <= 0xdfff) continue;
      const left = piece.slice(0, k);
      const right = piece.slice(k);
      const l = vocab.get(left);
      const r = vocab.get(right);
      if (l !== undefined && r !== undefined) splits.push([l, r, left, right]);
    }
    splits.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    for (const [, , left, right] of splits) merges.push([left, right]);
  }

  const unk = tokenAt('unknown_token_id') ?? (vocab.has('<unk>') ? '<unk>' : null);
  const replaceSpaces = { type: 'Replace', pattern: { String: ' ' }, content: SPACE };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(pieces, types),
    normalizer: addSpacePrefix ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPACE }, replaceSpaces] } : replaceSpaces,
    pre_tokenizer: null,
    post_processor: templateProcessing(file, tokenAt, (t) => vocab.get(t)!),
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
}
