// Pieces of a rebuilt tokenizer.json shared by the byte-level (tokenizer_rebuild.ts) and SentencePiece
// (sentencepiece_tokenizer.ts) rebuilds.
import type { GgufFile } from './reader.js';

/** The file's token types (llama.cpp: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte). */
export function tokenTypes(file: GgufFile): number[] {
  const typesRaw = file.metadata.get('tokenizer.ggml.token_type');
  return Array.isArray(typesRaw) ? (typesRaw as number[]) : [];
}

/** Control (3) and unknown (2) tokens as special added tokens, user-defined ones (4) as plain added tokens. */
export function addedTokens(tokens: readonly string[], types: readonly number[]): Record<string, unknown>[] {
  return tokens.flatMap((content, id) =>
    types[id] === 2 || types[id] === 3 || types[id] === 4
      ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[id] !== 4 }]
      : [],
  );
}

/** BOS/EOS added as the file says (`tokenizer.ggml.add_bos_token` / `add_eos_token`); null when neither. */
export function templateProcessing(file: GgufFile, tokenAt: (key: string) => string | null, ids: (t: string) => number): Record<string, unknown> | null {
  const bos = tokenAt('bos_token_id');
  const eos = tokenAt('eos_token_id');
  const addBos = file.metadata.get('tokenizer.ggml.add_bos_token') === true && bos !== null;
  const addEos = file.metadata.get('tokenizer.ggml.add_eos_token') === true && eos !== null;
  if (!addBos && !addEos) return null;
  const seq = (id: 'A' | 'B', typeId: number) => [
    ...(addBos ? [{ SpecialToken: { id: bos, type_id: typeId } }] : []),
    { Sequence: { id, type_id: typeId } },
    ...(addEos ? [{ SpecialToken: { id: eos, type_id: typeId } }] : []),
  ];
  const special = (t: string) => ({ id: t, ids: [ids(t)], tokens: [t] });
  return {
    type: 'TemplateProcessing',
    single: seq('A', 0),
    pair: [...seq('A', 0), ...seq('B', 1)],
    special_tokens: Object.fromEntries([...(addBos ? [bos!] : []), ...(addEos ? [eos!] : [])].map((t) => [t, special(t)])),
  };
}
