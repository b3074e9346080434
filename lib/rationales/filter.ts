// `rdpo-native rationales filter`: a judge scores every rationale; kept rows go to the output,
// dropped ones to a side file, both crash-safe journals (so a rerun skips rows judged either way).
import { readFileSync } from 'node:fs';
import { RationaleRowSchema, type RationaleRow } from '../data/rationale_row.js';
import { UsageError } from '../errors.js';
import type { Journal } from '../jobs/journal.js';
import { ResumableJournals, queueUndone, runQueue } from '../jobs/resumable_job.js';
import type { Interruption } from '../jobs/runner.js';
import type { ChatGenerator, SamplingOptions } from '../llm/generator.js';
import { GeneratorError, type RetryPolicy } from '../llm/retry.js';
import { judgedKey } from './pair_key.js';
import { judgeRequest, keepRationale, parseScores, type RationaleScores } from './judge.js';

export interface FilterOptions {
  inFile: string;
  outFile: string;
  /** Where dropped rows (with their scores) go; default `<out>.dropped.jsonl`. */
  droppedFile: string;
  judge: ChatGenerator;
  sampling: Omit<SamplingOptions, 'signal'>;
  /** Tries per row when the judge's answer cannot be read (then the row counts as failed). */
  judgeAttempts: number;
  concurrency: number;
  retry: RetryPolicy;
  interruption?: Interruption;
  progress?: boolean;
  limit?: number;
  log?: (line: string) => void;
}

export interface FilterSummary {
  total: number;
  kept: number;
  dropped: number;
  skipped: number;
  failed: Array<{ id: string; error: string }>;
  unparseable: number;
  notRun: number;
  interrupted: boolean;
  promptTokens: number;
  completionTokens: number;
  seconds: number;
}

export function defaultDroppedFile(outFile: string): string {
  return outFile.endsWith('.jsonl') ? `${outFile.slice(0, -'.jsonl'.length)}.dropped.jsonl` : `${outFile}.dropped.jsonl`;
}

/** Reads the rationale rows; a torn last line (a generation run still going, or killed) is ignored with a note. */
export function readRationaleRows(file: string, log: (line: string) => void): RationaleRow[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --in ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  if (tail.trim() !== '') log(`${file}: ignoring an unfinished last line (${tail.length} characters); rerun \`rationales\` to complete it`);
  const rows: RationaleRow[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new UsageError(`${file}:${i + 1} is not valid JSON`);
    }
    const parsed = RationaleRowSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UsageError(
        `${file}:${i + 1}: ${issue?.path.join('.') || 'row'}: ${issue?.message ?? 'invalid'} ` +
          '(filter reads the output of `rdpo-native rationales`: a pair with `rationale` and `rationale_style`)',
      );
    }
    rows.push(parsed.data);
  });
  return rows;
}

export async function filterRationales(options: FilterOptions): Promise<FilterSummary> {
  const started = Date.now();
  const log = options.log ?? ((line) => process.stderr.write(line + '\n'));
  let input = readRationaleRows(options.inFile, log);
  if (options.limit !== undefined) input = input.slice(0, options.limit);
  const keyOf = (r: { prompt: RationaleRow['prompt']; chosen: string; rejected: string; rationale_style?: unknown; rationale?: unknown }) =>
    judgedKey(r, String(r.rationale_style), String(r.rationale));

  const journals = ResumableJournals.open([options.outFile, options.droppedFile], 'that row is judged again', log);
  const [kept, dropped] = journals.journals as [Journal, Journal];
  try {
    const done = journals.doneKeys((row) => {
      const parsed = RationaleRowSchema.safeParse(row);
      return parsed.success ? keyOf(parsed.data) : undefined;
    });
    // A row judged twice in one input is judged once: it counts as skipped.
    const { jobs, skipped, duplicates } = queueUndone(input, done, keyOf, (row) => row.id);

    const totals = { kept: 0, dropped: 0, unparseable: 0, promptTokens: 0, completionTokens: 0 };
    const outcome = await runQueue(jobs, {
      label: 'filter',
      noun: 'row',
      concurrency: options.concurrency,
      retry: options.retry,
      ...(options.interruption ? { interruption: options.interruption } : {}),
      ...(options.progress !== undefined ? { progress: options.progress } : {}),
      log,
      work: async (row, signal) => {
        const scores = await judgeOnce(row, options, signal, totals);
        const out = { ...row, rationale_scores: scores, rationale_judge: options.judge.model };
        if (keepRationale(scores)) {
          kept.append(out);
          totals.kept++;
        } else {
          dropped.append(out);
          totals.dropped++;
        }
      },
    });
    return {
      total: input.length,
      kept: totals.kept,
      dropped: totals.dropped,
      skipped: skipped + duplicates,
      failed: outcome.failed,
      unparseable: totals.unparseable,
      notRun: outcome.notRun,
      interrupted: outcome.interrupted,
      promptTokens: totals.promptTokens,
      completionTokens: totals.completionTokens,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    journals.close();
  }
}

/** Asks up to `judgeAttempts` times for a readable answer; later tries sample (temperature ≥ 0.7) so they can differ. */
async function judgeOnce(
  row: RationaleRow,
  options: FilterOptions,
  signal: AbortSignal | undefined,
  totals: { unparseable: number; promptTokens: number; completionTokens: number },
): Promise<RationaleScores> {
  let last = '';
  for (let attempt = 1; attempt <= options.judgeAttempts; attempt++) {
    const temperature = attempt === 1 ? options.sampling.temperature : Math.max(options.sampling.temperature, 0.7);
    const completion = await options.judge.complete([{ role: 'user', content: judgeRequest(row, row.rationale) }], {
      ...options.sampling,
      temperature,
      ...(signal ? { signal } : {}),
    });
    totals.promptTokens += completion.promptTokens;
    totals.completionTokens += completion.completionTokens;
    const scores = parseScores(completion.text);
    if (scores) return scores;
    last = completion.text;
  }
  totals.unparseable++;
  const shown = last.length > 120 ? `${last.slice(0, 120)}…` : last;
  throw new GeneratorError(`the judge's answer has no readable scores after ${options.judgeAttempts} tries: ${JSON.stringify(shown)}`, false);
}

export function formatFilterSummary(s: FilterSummary, outFile: string, droppedFile: string): string {
  const lines = [
    `${s.interrupted ? 'interrupted' : 'finished'} in ${s.seconds.toFixed(1)} s: ${s.kept} kept, ${s.dropped} dropped, ` +
      `${s.failed.length} failed${s.unparseable ? ` (${s.unparseable} with unreadable judge answers)` : ''}, ` +
      `${s.skipped} skipped as already judged${s.notRun ? `, ${s.notRun} not run` : ''} (of ${s.total})`,
    `tokens: ${s.promptTokens} prompt, ${s.completionTokens} completion`,
    `kept: ${outFile}; dropped: ${droppedFile}`,
  ];
  if (s.failed.length > 0) {
    lines.push('failed rows (rerun the same command to retry them):');
    for (const f of s.failed.slice(0, 10)) lines.push(`  ${f.id}: ${f.error}`);
    if (s.failed.length > 10) lines.push(`  … and ${s.failed.length - 10} more`);
  }
  return lines.join('\n');
}
