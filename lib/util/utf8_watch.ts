// Text files are read as UTF-8, and Node replaces invalid bytes with U+FFFD without a word. A
// Latin-1 or UTF-16 file then trains on mangled text; this notices the first invalid byte (in a
// stream too) and says so once per file.
export type WarnFn = (message: string) => void;

export const warnOnStderr: WarnFn = (m) => process.stderr.write(`rdpo-native: warning: ${m}\n`);

export class Utf8Watch {
  private decoder = new TextDecoder('utf-8', { fatal: true });
  private offset = 0;
  private warned = false;

  constructor(
    private readonly file: string,
    private readonly warn: WarnFn = warnOnStderr,
  ) {}

  /** Feed the file's bytes in order. */
  check(chunk: Uint8Array): void {
    if (this.warned) return;
    try {
      this.decoder.decode(chunk, { stream: true });
      this.offset += chunk.length;
    } catch {
      this.warned = true;
      this.warn(
        `${this.file} is not valid UTF-8 (an invalid byte within bytes ${this.offset}..${this.offset + chunk.length}); ` +
          'invalid bytes were replaced with U+FFFD. Convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8) to keep its text.',
      );
    }
  }

  /** At the end of the file: a multi-byte sequence cut off by the end is invalid too. */
  end(): void {
    if (this.warned) return;
    try {
      this.decoder.decode();
    } catch {
      this.warned = true;
      this.warn(`${this.file} is not valid UTF-8 (it ends inside a multi-byte character); the last bytes were replaced with U+FFFD.`);
    }
  }
}
