import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { wholeNumberOption as wholeNumber } from '../number_options.js';
import { loadPreferences, type LoadOptions, type LoadReport } from '../../data/load.js';
import { PreferenceDataError } from '../../data/errors.js';
import { dataSource } from '../data_source.js';
import { EXIT } from '../exit_codes.js';
import { isPreferenceFormat, PREFERENCE_FORMATS } from '../../data/formats/index.js';
import { loadTokenCounter, tokenLengthReport, type LengthStats, type TokenLengthReport } from '../../data/token_lengths.js';

interface DataOptions {
  format?: string;
  skipInvalid?: boolean;
  rationalesFrom?: string;
  limit?: string;
  seed?: string;
  model?: string;
  maxLength: string;
  json?: boolean;
}

export function registerData(program: Command): void {
  program
    .command('data')
    .description('load a preference data file, validate it and report its counts (and token lengths with --model)')
    .argument('<file>', 'JSONL, JSON or Parquet file, optionally gzip-compressed, or a hub dataset org/name[@rev][:split]')
    .option('--format <name>', `force the format: ${PREFERENCE_FORMATS.join(', ')} (default: detected)`)
    .option('--skip-invalid', 'skip and count invalid rows instead of failing')
    .option('--rationales-from <file>', 'pandalm: the judge file whose gpt_reason becomes the rationale')
    .option('--limit <n>', 'report on a subset of this many pairs')
    .option('--seed <s>', 'seed of the --limit subset (default: the first pairs)')
    .option('--model <dir|org/name[@rev]>', 'model directory with tokenizer.json: report token lengths (a hub id fetches the tokenizer only)')
    .option('--max-length <n>', 'sequence length budget for the truncation counts', '1024')
    .option('--json', 'print one JSON object')
    .action(async (file: string, opts: DataOptions) => {
      if (opts.format !== undefined && !isPreferenceFormat(opts.format)) {
        throw new UsageError(`--format must be one of ${PREFERENCE_FORMATS.join(', ')}, got "${opts.format}"`);
      }
      const maxLength = wholeNumber(opts.maxLength, '--max-length', 1);
      const load: LoadOptions = {
        ...(opts.format !== undefined && isPreferenceFormat(opts.format) ? { format: opts.format } : {}),
        ...(opts.skipInvalid ? { skipInvalid: true } : {}),
        ...(opts.rationalesFrom !== undefined ? { rationalesFrom: opts.rationalesFrom } : {}),
        ...(opts.limit !== undefined ? { limit: wholeNumber(opts.limit, '--limit', 0) } : {}),
        ...(opts.seed !== undefined ? { seed: /^-?\d+$/.test(opts.seed) ? Number(opts.seed) : opts.seed } : {}),
      };
      let loaded;
      try {
        loaded = await loadPreferences(await dataSource(file), load);
      } catch (err) {
        if (!(err instanceof PreferenceDataError)) throw err;
        if (opts.json) console.log(JSON.stringify({ ok: false, error: err.message, ...(err.details?.report as object | undefined) }, null, 2));
        return failed(err);
      }
      const { pairs, report } = loaded;
      let counter;
      try {
        counter = opts.model !== undefined ? await loadTokenCounter(opts.model) : undefined;
      } catch (err) {
        if (!(err instanceof PreferenceDataError)) throw err;
        return failed(err);
      }
      const tokens = counter !== undefined ? tokenLengthReport(pairs, counter, maxLength) : undefined;
      if (opts.json) {
        console.log(JSON.stringify({ ok: true, ...report, ...(tokens ? { model: opts.model, tokens } : {}) }, null, 2));
        return;
      }
      console.log(describe(report, load, tokens, opts.model));
    });
}

// `data` is a checker: a file (or a --model tokenizer) it cannot read is its verdict, exit 1, where
// other commands show a PreferenceDataError as a usage error (exit_codes.ts).
function failed(err: PreferenceDataError): void {
  console.error(`rdpo-native: ${err.message}`);
  process.exitCode = EXIT.failure;
}

function describe(r: LoadReport, opts: LoadOptions, tokens: TokenLengthReport | undefined, model: string | undefined): string {
  const lines = [
    `file        ${r.file} (${r.container}${r.gzip ? ', gzip' : ''})`,
    `format      ${r.format}${opts.format ? '' : ' (detected)'}`,
    `rows        ${r.rows}: ${r.valid} valid, ${r.invalid} invalid${r.invalid ? ' (skipped)' : ''}` +
      `${r.tiesDropped ? `, ${r.tiesDropped} ties without a preference (dropped)` : ''}`,
    `pairs       ${r.pairs} distinct (${r.duplicates} duplicate${r.duplicates === 1 ? '' : 's'} removed)` +
      `${r.selected !== r.pairs ? `; ${r.selected} selected by --limit` : ''}`,
    `rationales  ${r.withRationale} of ${r.pairs} pairs${r.rationalesFrom ? ` (from ${r.rationalesFrom})` : ''}`,
  ];
  if (r.ties !== undefined) lines.push(`ties        ${r.ties} pairs with equal scores (kept; meta.tie)`);
  if (r.invalidReasons.length > 0) {
    lines.push('invalid rows:', ...r.invalidReasons.map((x) => `  ${x}`));
    if (r.invalid > r.invalidReasons.length) lines.push(`  … and ${r.invalid - r.invalidReasons.length} more`);
  }
  if (tokens) {
    const row = (name: string, s: LengthStats) =>
      `  ${name.padEnd(10)}${[s.p50, s.p90, s.p99, s.max].map((x) => String(x).padStart(8)).join('')}${String(s.count).padStart(8)}`;
    lines.push(
      `tokens      content tokens with ${model}/tokenizer.json (no chat template)`,
      `  ${''.padEnd(10)}${['p50', 'p90', 'p99', 'max', 'pairs'].map((x) => x.padStart(8)).join('')}`,
      row('prompt', tokens.prompt),
      row('chosen', tokens.chosen),
      row('rejected', tokens.rejected),
      ...(tokens.rationale ? [row('rationale', tokens.rationale)] : []),
      `over --max-length ${tokens.maxLength}: ${tokens.truncatedPairs} of ${r.selected} pairs (prompt + longer response)` +
        (tokens.rationale ? `; ${tokens.truncatedRationales} of ${tokens.rationale.count} rationale sequences (prompt + both responses + rationale)` : ''),
    );
  }
  return lines.join('\n');
}
