// loadPreferences: any supported file → validated, de-duplicated PreferencePair[] and a report.
import { formatOrigin, type PreferencePair } from './schema.js';
import { PreferenceDataError, RowError } from './errors.js';
import { openRows, openRowsOf, type Container, type SourceRow } from './read_rows.js';
import { DETECT_ROWS, FORMATS, detectFormat, isPreferenceFormat, type FormatSpec, type PreferenceFormat } from './formats/index.js';
import type { ConvertContext } from './formats/types.js';
import { judgeVerdicts } from './formats/pandalm.js';
import { isRow } from './fields.js';
import { validatePair } from './validate.js';
import { contentId, contentKey } from './identity.js';
import { selectSubset } from './subset.js';

/** Data in several files, read as one set under one name (a hub dataset's split: hub/resolve_dataset.ts). */
export interface DataFiles {
  /** What reports and errors call it, e.g. `org/name@main:train`. */
  label: string;
  files: readonly string[];
}

export interface LoadOptions {
  /** Skip format detection. */
  format?: PreferenceFormat;
  /** Skip and count bad rows instead of failing on them. */
  skipInvalid?: boolean;
  /** Keep this many pairs: a seeded subset when `seed` is given, else the first ones in file order. */
  limit?: number;
  seed?: number | string;
  /** PandaLM only: the judge file whose `gpt_reason` becomes the rationale (joined by `idx`). */
  rationalesFrom?: string;
  /** Where warnings go (a file that is not valid UTF-8); default stderr. */
  warn?: (message: string) => void;
}

export interface LoadReport {
  file: string;
  format: PreferenceFormat;
  container: Container;
  gzip: boolean;
  /** Data rows read (blank JSONL lines are not rows). */
  rows: number;
  /** Rows that became pairs (duplicates included). */
  valid: number;
  invalid: number;
  /** `file:line: reason` for the first few invalid rows. */
  invalidReasons: string[];
  /** Valid rows dropped because an earlier row had the same prompt, chosen and rejected. */
  duplicates: number;
  /** Distinct pairs: valid − duplicates. */
  pairs: number;
  /** Pairs returned after `limit`. */
  selected: number;
  /** Distinct pairs that carry a rationale. */
  withRationale: number;
  /** Distinct pairs whose two sides were rated equal but kept (UltraFeedback), see `meta.tie`. */
  ties?: number;
  /** Rows whose raters preferred neither side, so they have no pair (PandaLM): not counted as valid or invalid. */
  tiesDropped?: number;
  rationalesFrom?: string;
}

const SHOWN_REASONS = 10;

export async function loadPreferences(data: string | DataFiles, opts: LoadOptions = {}): Promise<{ pairs: PreferencePair[]; report: LoadReport }> {
  const file = typeof data === 'string' ? data : data.label;
  if (opts.format !== undefined && !isPreferenceFormat(opts.format)) {
    throw new PreferenceDataError(`unknown format "${String(opts.format)}"; use one of ${Object.keys(FORMATS).join(', ')}`, { file });
  }
  const source = typeof data === 'string' ? await openRows(data, opts.warn) : await openRowsOf(data.files, opts.warn);
  const iterator = source.rows[Symbol.asyncIterator]();
  const head = await readHead(iterator);
  if (head.length === 0) throw new PreferenceDataError(`${file}: has no rows`, { file });
  const format = opts.format ?? detectedFormat(file, head);
  const ctx = await convertContext(file, format, opts);

  const report: LoadReport = {
    file,
    format,
    container: source.container,
    gzip: source.gzip,
    rows: 0,
    valid: 0,
    invalid: 0,
    invalidReasons: [],
    duplicates: 0,
    pairs: 0,
    selected: 0,
    withRationale: 0,
    ...(opts.rationalesFrom !== undefined ? { rationalesFrom: opts.rationalesFrom } : {}),
  };
  const collector = new PairCollector(report, FORMATS[format], ctx);
  for (const row of head) collector.take(row);
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) collector.take(next.value);
  const { pairs } = collector;

  if (format === 'ultrafeedback') report.ties = collector.ties;
  if (format === 'pandalm') report.tiesDropped = collector.tiesDropped;
  report.pairs = pairs.length;

  if (report.invalid > 0 && !opts.skipInvalid) {
    throw new PreferenceDataError(invalidMessage(report, opts.format !== undefined), { file, report });
  }
  if (pairs.length === 0) {
    throw new PreferenceDataError(
      `${file}: no valid preference pairs among ${report.rows} rows (format ${format})` +
        (report.invalidReasons[0] ? `; the first problem: ${report.invalidReasons[0]}` : ''),
      { file, report },
    );
  }
  const selected = selectPairs(pairs, opts);
  report.selected = selected.length;
  return { pairs: selected, report };
}

/** The first rows, up to DETECT_ROWS that are objects: what format detection looks at. */
async function readHead(iterator: AsyncIterator<SourceRow>): Promise<SourceRow[]> {
  const head: SourceRow[] = [];
  while (head.filter((r) => isRow(r.value)).length < DETECT_ROWS) {
    const next = await iterator.next();
    if (next.done) break;
    head.push(next.value);
  }
  return head;
}

function detectedFormat(file: string, head: readonly SourceRow[]): PreferenceFormat {
  try {
    return detectFormat(head.map((r) => r.value));
  } catch (err) {
    if (err instanceof PreferenceDataError) throw new PreferenceDataError(`${file}: ${err.message}`, { file });
    throw err;
  }
}

/** What the converter gets besides the row: PandaLM's judge reasons, with `rationalesFrom`. */
async function convertContext(file: string, format: PreferenceFormat, opts: LoadOptions): Promise<ConvertContext> {
  const ctx: ConvertContext = {};
  if (opts.rationalesFrom !== undefined) {
    if (format !== 'pandalm') {
      throw new PreferenceDataError(`${file}: rationalesFrom joins PandaLM judge reasons by \`idx\` and applies only to the pandalm format, not ${format}`, {
        file,
      });
    }
    ctx.rationales = await readJudgeFile(opts.rationalesFrom);
  }
  return ctx;
}

/** `limit` pairs: a seeded subset when `seed` is given, else the first ones; all without a limit. */
function selectPairs(pairs: PreferencePair[], opts: LoadOptions): PreferencePair[] {
  if (opts.limit === undefined) return pairs;
  if (!Number.isSafeInteger(opts.limit) || opts.limit < 0) throw new RangeError(`limit must be a whole number ≥ 0, got ${opts.limit}`);
  return opts.seed !== undefined ? selectSubset(pairs, { limit: opts.limit, seed: opts.seed }) : pairs.slice(0, opts.limit);
}

/** Converts, validates and de-duplicates rows one at a time, counting every outcome in the report. */
class PairCollector {
  readonly pairs: PreferencePair[] = [];
  /** Distinct pairs whose two sides were rated equal (UltraFeedback). */
  ties = 0;
  /** Rows whose raters preferred neither side (PandaLM). */
  tiesDropped = 0;
  private readonly seenKeys = new Set<string>();
  private readonly usedIds = new Set<string>();

  constructor(
    private readonly report: LoadReport,
    private readonly spec: FormatSpec,
    private readonly ctx: ConvertContext,
  ) {}

  take(row: SourceRow): void {
    const { report } = this;
    report.rows += 1;
    if (row.parseError !== undefined) {
      this.invalid(row, row.parseError);
      return;
    }
    if (!isRow(row.value)) {
      this.invalid(row, `the row is not a JSON object (it is ${Array.isArray(row.value) ? 'a list' : typeof row.value})`);
      return;
    }
    let converted;
    try {
      converted = this.spec.convert(row.value, this.ctx);
      if (converted.kind === 'tie') {
        this.tiesDropped += 1;
        return;
      }
      validatePair(converted);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      this.invalid(row, err.message);
      return;
    }
    report.valid += 1;
    const key = contentKey(converted);
    if (this.seenKeys.has(key)) {
      report.duplicates += 1;
      return;
    }
    this.seenKeys.add(key);
    // A source id shared by different pairs (e.g. several pairs per prompt) is made unique.
    let id = converted.sourceId ?? contentId(key);
    if (this.usedIds.has(id)) id = `${id}~${contentId(key).slice(0, 8)}`;
    this.usedIds.add(id);
    if (converted.rationale !== undefined) report.withRationale += 1;
    if (converted.tie) this.ties += 1;
    const { kind: _kind, sourceId: _sourceId, tie: _tie, meta, ...fields } = converted;
    this.pairs.push({ id, ...fields, meta: { ...meta, source: formatOrigin(row.origin) } });
  }

  private invalid(row: SourceRow, reason: string): void {
    this.report.invalid += 1;
    if (this.report.invalidReasons.length < SHOWN_REASONS) this.report.invalidReasons.push(`${formatOrigin(row.origin)}: ${reason}`);
  }
}

function invalidMessage(report: LoadReport, forced: boolean): string {
  const lines = [`${report.file}: ${report.invalid} of ${report.rows} rows are not valid ${report.format} preference pairs:`];
  for (const r of report.invalidReasons) lines.push(`  ${r}`);
  if (report.invalid > report.invalidReasons.length) lines.push(`  … and ${report.invalid - report.invalidReasons.length} more`);
  if (report.valid === 0 && forced) lines.push(`No row fits the format ${report.format}: is --format right? Leave it out to detect the format.`);
  lines.push('Fix these rows, or pass --skip-invalid (skipInvalid: true) to skip and count them.');
  return lines.join('\n');
}

async function readJudgeFile(file: string) {
  const source = await openRows(file);
  const rows: SourceRow[] = [];
  for await (const r of source.rows) rows.push(r);
  const verdicts = judgeVerdicts(rows);
  if (verdicts.size === 0) {
    throw new PreferenceDataError(`${file}: no judge rows (\`idx\` with \`gpt_reason\`) to take rationales from`, { file });
  }
  return verdicts;
}
