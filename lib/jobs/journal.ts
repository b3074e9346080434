// An append-only JSONL file that survives crashes: one write call per line, periodic fsync, and on
// reopening a torn last line (a write cut short by SIGKILL or power loss) is truncated away, so the
// row it held is redone once rather than lost or duplicated.
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, unlinkSync, writeFileSync, writeSync, readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

export interface JournalOpenResult {
  journal: Journal;
  /** Complete rows already in the file, parsed. */
  rows: unknown[];
  /** Bytes of a torn last line that were cut off (0 if the file ended cleanly). */
  tornBytes: number;
}

export interface JournalOptions {
  /** fsync after this many appended lines... */
  syncEveryLines?: number;
  /** ...or this long after the first unsynced line, whichever comes first. */
  syncEveryMs?: number;
  /** Hold `<path>.lock` while open, so two runs cannot interleave in one file (default true). */
  lock?: boolean;
}

export class Journal {
  private unsynced = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly lockPath: string | undefined,
    private readonly syncEveryLines: number,
    private readonly syncEveryMs: number,
  ) {}

  static open(path: string, options: JournalOptions = {}): JournalOpenResult {
    const lockPath = options.lock === false ? undefined : takeLock(path);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o644);
    } catch (err) {
      if (lockPath) releaseLock(lockPath);
      throw new UsageError(`cannot open ${path} for appending: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    try {
      const { rows, cleanLength, size } = readRows(fd, path);
      if (cleanLength < size) {
        ftruncateSync(fd, cleanLength);
        fsyncSync(fd);
      }
      const journal = new Journal(path, fd, lockPath, options.syncEveryLines ?? 64, options.syncEveryMs ?? 1000);
      return { journal, rows, tornBytes: size - cleanLength };
    } catch (err) {
      closeSync(fd);
      if (lockPath) releaseLock(lockPath);
      throw err;
    }
  }

  /** Appends one row as one line with a single write call (looping only if the OS writes short). */
  append(row: unknown): void {
    if (this.closed) throw new Error(`journal ${this.path} is closed`);
    const bytes = Buffer.from(JSON.stringify(row) + '\n', 'utf8');
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.unsynced++;
    if (this.unsynced >= this.syncEveryLines) this.sync();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.sync(), this.syncEveryMs);
      this.timer.unref();
    }
  }

  sync(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || this.unsynced === 0) return;
    fsyncSync(this.fd);
    this.unsynced = 0;
  }

  close(): void {
    if (this.closed) return;
    this.sync();
    this.closed = true;
    closeSync(this.fd);
    if (this.lockPath) releaseLock(this.lockPath);
  }
}

/** Reads complete lines; a last line without its newline is torn. A bad complete line is an error. */
function readRows(fd: number, path: string): { rows: unknown[]; cleanLength: number; size: number } {
  const size = fstatSync(fd).size;
  const rows: unknown[] = [];
  const chunk = Buffer.alloc(1 << 20);
  let carry = Buffer.alloc(0);
  let pos = 0;
  let line = 0;
  while (pos < size) {
    const n = readSync(fd, chunk, 0, chunk.length, pos);
    if (n === 0) break;
    pos += n;
    let buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      line++;
      const text = buf.toString('utf8', start, nl);
      start = nl + 1;
      if (text.trim() === '') continue;
      try {
        rows.push(JSON.parse(text));
      } catch {
        throw new UsageError(
          `${path}:${line} is not valid JSON, and it is not the last line, so it is not a torn write; ` +
            'remove or fix that line (or start a new output file)',
        );
      }
    }
    carry = Buffer.from(buf.subarray(start));
    buf = Buffer.alloc(0);
  }
  return { rows, cleanLength: size - carry.length, size };
}

function takeLock(path: string): string {
  const lockPath = `${path}.lock`;
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return lockPath;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(safeRead(lockPath));
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        const who = pid === process.pid ? 'this process already' : `another run (pid ${pid})`;
        throw new UsageError(`${path} is being written by ${who}; lock ${lockPath}`);
      }
      // Left behind by a run that died: take it over.
      try {
        unlinkSync(lockPath);
      } catch {}
    }
  }
  throw new UsageError(`cannot take the lock ${lockPath}`);
}

function releaseLock(lockPath: string): void {
  try {
    if (safeRead(lockPath) === String(process.pid)) unlinkSync(lockPath);
  } catch {}
}

function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
