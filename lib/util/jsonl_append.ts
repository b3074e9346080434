// Append-only JSONL: one write call per line, so a crash leaves at most one torn last line,
// which the reader drops.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';

export class JsonlAppender {
  private fd: number;
  /** `truncate`: start the file empty (an output written afresh, row by row). */
  constructor(
    readonly file: string,
    { truncate = false } = {},
  ) {
    this.fd = openSync(file, truncate ? 'w' : 'a');
  }
  append(row: unknown): void {
    writeSync(this.fd, JSON.stringify(row) + '\n');
  }
  sync(): void {
    fsyncSync(this.fd);
  }
  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}

/** Reads complete JSONL rows; a torn last line (no trailing newline) is cut off the file when `repair`. */
export function readJsonlRows<T>(file: string, { repair = false } = {}): T[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  if (repair && end < text.length) truncateSync(file, Buffer.byteLength(text.slice(0, end)));
  return text
    .slice(0, end)
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as T);
}
