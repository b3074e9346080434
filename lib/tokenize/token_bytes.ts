// The bytes a single token stands for. Decoding one token of a multi-byte character gives U+FFFD,
// so a client reading per-token log-probs (OpenAI's `bytes` field) needs the token's own bytes to
// put characters back together. Byte-level BPE (GPT-2's scheme) writes each byte as one printable
// character; SentencePiece writes unknown bytes as <0xNN> and a space as ▁.

/** GPT-2's byte ↔ printable-character table: printable Latin-1 bytes stand for themselves, the
 * other 68 bytes take the characters from U+0100 on, in byte order. */
function byteLevelDecoder(): Map<string, number> {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<string, number>();
  let next = 0x100;
  for (let b = 0; b < 256; b++) map.set(String.fromCodePoint(printable(b) ? b : next++), b);
  return map;
}

let byteLevel: Map<string, number> | undefined;

/** The bytes of a byte-level BPE token's vocabulary string, or null when it is not one (an added token). */
export function byteLevelTokenBytes(piece: string): number[] | null {
  byteLevel ??= byteLevelDecoder();
  const out: number[] = [];
  for (const ch of piece) {
    const b = byteLevel.get(ch);
    if (b === undefined) return null;
    out.push(b);
  }
  return out;
}

/** SentencePiece's byte-fallback pieces (<0xE2>) are that byte; ▁ is a space; the rest is UTF-8. */
export function sentencePieceTokenBytes(piece: string): number[] {
  const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  if (byte) return [parseInt(byte[1]!, 16)];
  return [...Buffer.from(piece.replaceAll('\u2581', ' '), 'utf8')];
}
