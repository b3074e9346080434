// Reads the raw rows of a data file: JSONL (streamed line by line), JSON (an array, or an object
// holding one) or Parquet, each optionally gzip-compressed. Containers are recognised by magic
// bytes first and by extension second, so `data.jsonl` that is really gzip still loads.
import { createReadStream, promises as fsp } from 'node:fs';
import { createInterface } from 'node:readline';
import { Utf8Watch, warnOnStderr, type WarnFn } from '../util/utf8_watch.js';
import { createGunzip, gunzipSync } from 'node:zlib';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import type { AsyncBuffer, Compressors } from 'hyparquet';
import type { RowOrigin } from './schema.js';
import { PreferenceDataError } from './errors.js';

export type Container = 'jsonl' | 'json' | 'parquet';

/** One raw row and where it came from; `parseError` when a JSONL line is not JSON. */
export interface SourceRow {
  origin: RowOrigin;
  value?: unknown;
  parseError?: string;
}

export interface RowSource {
  container: Container;
  gzip: boolean;
  rows: AsyncIterable<SourceRow>;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const PARQUET_MAGIC = 'PAR1';
const PARQUET_CHUNK_ROWS = 2048;

/** Opens `file` and yields its rows without reading a JSONL file into memory. */
export async function openRows(file: string, warn?: WarnFn): Promise<RowSource> {
  let head: Buffer;
  try {
    head = await readHead(file, false, 4);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PreferenceDataError(`${file}: no such file`, { file });
    if (code === 'EISDIR') throw new PreferenceDataError(`${file}: is a directory, expected a data file (.jsonl, .json, .parquet, optionally .gz)`, { file });
    throw err;
  }
  const gzip = head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  // Content decides, whatever the name: a `.gz` that is plain text (unzipped, or renamed) is read as
  // what it holds, with a word, so that its row count never changes how it is read.
  if (!gzip && /\.gz$/i.test(file)) {
    (warn ?? warnOnStderr)(
      `${file} is named .gz but is not gzip-compressed; read as plain ${path.extname(file.slice(0, -3)) || 'text'} (rename it to drop the .gz)`,
    );
  }
  const container = await sniffContainer(file, gzip);
  const rows =
    container === 'jsonl'
      ? jsonlRows(file, gzip, new Utf8Watch(file, warn))
      : container === 'json'
        ? jsonRows(file, gzip, new Utf8Watch(file, warn))
        : parquetRows(file, gzip);
  return { container, gzip, rows };
}

/**
 * Several files read as one: the rows of each in turn (a hub dataset split in shards). The container
 * reported is the first file's.
 */
export async function openRowsOf(files: readonly string[], warn?: WarnFn): Promise<RowSource> {
  if (files.length === 0) throw new PreferenceDataError('no data files to read', { file: '' });
  const sources: RowSource[] = [];
  for (const file of files) sources.push(await openRows(file, warn));
  async function* chained(): AsyncGenerator<SourceRow> {
    for (const source of sources) yield* source.rows;
  }
  return { container: sources[0]!.container, gzip: sources[0]!.gzip, rows: chained() };
}

async function readHead(file: string, gzip: boolean, n: number): Promise<Buffer> {
  if (!gzip) {
    const fh = await fsp.open(file, 'r');
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const stream = createReadStream(file).pipe(createGunzip());
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= n) break;
    }
  } catch (err) {
    throw new PreferenceDataError(`${file}: starts like gzip but does not decompress (${(err as Error).message})`, { file });
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, n);
}

/** Magic bytes decide Parquet; JSON vs JSONL is the extension's call unless the content says otherwise. */
async function sniffContainer(file: string, gzip: boolean): Promise<Container> {
  const head = await readHead(file, gzip, 64 * 1024);
  if (head.subarray(0, 4).toString('latin1') === PARQUET_MAGIC) return 'parquet';
  const ext = path.extname(file.replace(/\.gz$/i, '')).toLowerCase();
  if (ext === '.parquet') {
    throw new PreferenceDataError(`${file}: named .parquet but does not start with the Parquet magic bytes "PAR1"`, { file });
  }
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const first = text.trimStart()[0];
  if (first === undefined) throw new PreferenceDataError(`${file}: is empty`, { file });
  if (first === '[') return 'json';
  if (first !== '{') {
    throw new PreferenceDataError(`${file}: not a JSON, JSONL or Parquet file (it starts with ${JSON.stringify(text.trimStart().slice(0, 20))})`, { file });
  }
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  // A `{` may open one JSON object or the first of many JSONL lines: a first line that parses
  // alone, followed by more content, is JSONL (LLaMA-Factory and others name JSONL files .json).
  const nl = text.indexOf('\n');
  if (nl >= 0 && text.slice(nl).trim() !== '') {
    try {
      JSON.parse(text.slice(0, nl));
      return 'jsonl';
    } catch {
      return 'json';
    }
  }
  return 'json';
}

async function* jsonlRows(file: string, gzip: boolean, utf8: Utf8Watch): AsyncGenerator<SourceRow> {
  const raw = createReadStream(file);
  const input = gzip ? raw.pipe(createGunzip()) : raw;
  raw.on('error', (err) => input.destroy(err));
  input.on('data', (chunk: Buffer) => utf8.check(chunk));
  input.on('end', () => utf8.end());
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line += 1;
      const trimmed = (line === 1 ? text.replace(/^\uFEFF/, '') : text).trim();
      if (trimmed === '') continue;
      try {
        yield { origin: { file, line }, value: JSON.parse(trimmed) };
      } catch (err) {
        yield { origin: { file, line }, parseError: `not valid JSON (${(err as Error).message})` };
      }
    }
  } catch (err) {
    throw new PreferenceDataError(`${file}: read failed after line ${line} (${(err as Error).message})`, { file });
  } finally {
    lines.close();
    input.destroy();
  }
}

async function* jsonRows(file: string, gzip: boolean, utf8: Utf8Watch): AsyncGenerator<SourceRow> {
  let bytes = await fsp.readFile(file);
  if (gzip) bytes = gunzipSync(bytes);
  utf8.check(bytes);
  utf8.end();
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PreferenceDataError(`${file}: not valid JSON (${(err as Error).message})`, { file });
  }
  const array = topLevelArray(file, data);
  for (let index = 0; index < array.length; index++) yield { origin: { file, index }, value: array[index] };
}

/** The rows of a JSON file: the file itself if it is an array, else the one array it holds. */
function topLevelArray(file: string, data: unknown): unknown[] {
  if (Array.isArray(data)) return data;
  if (data !== null && typeof data === 'object') {
    const arrays = Object.entries(data).filter(([, v]) => Array.isArray(v));
    if (arrays.length === 1) return arrays[0]![1] as unknown[];
    if (arrays.length > 1) {
      throw new PreferenceDataError(
        `${file}: the JSON object holds several arrays (${arrays.map(([k]) => k).join(', ')}); ` +
          'write the one you want to its own file (an array of rows, or JSONL)',
        { file },
      );
    }
    throw new PreferenceDataError(
      `${file}: one JSON object with no array of rows in it; expected an array of rows, an object holding one, or JSONL (one row per line)`,
      { file },
    );
  }
  throw new PreferenceDataError(`${file}: JSON holding a ${typeof data}, expected an array of rows`, { file });
}

/**
 * hyparquet reads Snappy and uncompressed pages itself; hyparquet-compressors adds ZSTD, GZIP,
 * Brotli and LZ4. Loaded on first Parquet use, so the rest of the package works without it.
 */
let compressorsLoad: Promise<Compressors | undefined> | undefined;
function parquetCompressors(): Promise<Compressors | undefined> {
  compressorsLoad ??= import('hyparquet-compressors').then(
    (m) => m.compressors,
    () => undefined,
  );
  return compressorsLoad;
}

async function* parquetRows(file: string, gzip: boolean): AsyncGenerator<SourceRow> {
  const compressors = await parquetCompressors();
  let buffer: AsyncBuffer;
  if (gzip) {
    const bytes = gunzipSync(await fsp.readFile(file));
    buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  } else {
    buffer = await asyncBufferFromFile(file);
  }
  let numRows: number;
  try {
    numRows = Number((await parquetMetadataAsync(buffer)).num_rows);
  } catch (err) {
    throw new PreferenceDataError(`${file}: unreadable Parquet metadata (${(err as Error).message})`, { file });
  }
  for (let start = 0; start < numRows; start += PARQUET_CHUNK_ROWS) {
    const end = Math.min(numRows, start + PARQUET_CHUNK_ROWS);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: buffer, rowStart: start, rowEnd: end, ...(compressors ? { compressors } : {}) });
    } catch (err) {
      const hint = compressors
        ? ''
        : '; only Snappy and uncompressed Parquet can be read without the hyparquet-compressors package (npm install hyparquet-compressors)';
      throw new PreferenceDataError(`${file}: Parquet rows ${start}..${end - 1} unreadable (${(err as Error).message})${hint}`, { file });
    }
    for (let i = 0; i < rows.length; i++) yield { origin: { file, index: start + i }, value: plainValue(rows[i]) };
  }
}

/** Parquet INT64 arrives as bigint; rows must stay JSON-serialisable. */
function plainValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plainValue);
  if (v instanceof Date) return v.toISOString();
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plainValue(x);
    return out;
  }
  return v;
}
