// `rdpo-native rationales`: one rationale per preference pair, appended to a crash-safe JSONL file.
import type { PreferencePair } from '../data/schema.js';
import type { ChatGenerator, SamplingOptions } from '../llm/generator.js';
import type { RationaleRow } from '../data/rationale_row.js';
import { queueUndone, ResumableJournals, runQueue } from '../jobs/resumable_job.js';
import type { Interruption } from '../jobs/runner.js';
import { GeneratorError, type RetryPolicy } from '../llm/retry.js';
import { pairKey } from './pair_key.js';
import { rationaleRequest, type RationaleStyle, type RationaleTemplate } from './prompts.js';
import { cutToTokenBudget, type BudgetTokenizer } from './token_budget.js';

export interface GenerateOptions {
  pairs: PreferencePair[];
  outFile: string;
  style: RationaleStyle;
  template: RationaleTemplate;
  generator: ChatGenerator;
  sampling: Omit<SamplingOptions, 'signal'>;
  concurrency: number;
  retry: RetryPolicy;
  /** Counts the --max-new-tokens budget a rationale is cut to (default: an estimate; token_budget.ts). */
  tokenizer?: BudgetTokenizer;
  interruption?: Interruption;
  /** Show the progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  log?: (line: string) => void;
}

export interface GenerateSummary {
  total: number;
  done: number;
  skipped: number;
  duplicates: number;
  failed: Array<{ id: string; error: string }>;
  notRun: number;
  interrupted: boolean;
  promptTokens: number;
  completionTokens: number;
  truncated: number;
  tornBytes: number;
  seconds: number;
}

export async function generateRationales(options: GenerateOptions): Promise<GenerateSummary> {
  const started = Date.now();
  const log = options.log ?? ((line) => process.stderr.write(line + '\n'));
  const journals = ResumableJournals.open([options.outFile], 'that pair is redone', log);
  const journal = journals.journals[0]!;
  try {
    const done = journals.doneKeys((row) => {
      const r = row as Partial<RationaleRow>;
      const complete = r.prompt !== undefined && typeof r.chosen === 'string' && typeof r.rejected === 'string' && typeof r.rationale_style === 'string';
      return complete ? pairKey(r as PreferencePair, r.rationale_style!) : undefined;
    });
    const { jobs, skipped, duplicates } = queueUndone(
      options.pairs,
      done,
      (pair) => pairKey(pair, options.style),
      (pair) => pair.id,
    );

    const totals = { done: 0, promptTokens: 0, completionTokens: 0, truncated: 0 };
    const outcome = await runQueue(jobs, {
      label: 'rationales',
      noun: 'pair',
      concurrency: options.concurrency,
      retry: options.retry,
      ...(options.interruption ? { interruption: options.interruption } : {}),
      ...(options.progress !== undefined ? { progress: options.progress } : {}),
      log,
      work: async (pair, signal) => {
        const completion = await options.generator.complete([{ role: 'user', content: rationaleRequest(options.template, pair) }], {
          ...options.sampling,
          ...(signal ? { signal } : {}),
        });
        if (completion.text.trim() === '') throw new GeneratorError('the model answered with an empty rationale', true);
        // A server may ignore max_tokens: what is stored never exceeds the budget asked for.
        const { text: rationale, note } = cutToTokenBudget(completion.text.trim(), options.sampling.maxNewTokens, options.tokenizer);
        const row: RationaleRow = {
          ...pair,
          rationale,
          rationale_style: options.style,
          rationale_model: options.generator.model,
          ...(note !== undefined ? { rationale_note: note } : {}),
        };
        journal.append(row);
        totals.done++;
        totals.promptTokens += completion.promptTokens;
        totals.completionTokens += completion.completionTokens;
        if (completion.finishReason === 'length' || note !== undefined) totals.truncated++;
      },
    });
    return {
      total: options.pairs.length,
      ...totals,
      skipped,
      duplicates,
      failed: outcome.failed,
      notRun: outcome.notRun,
      interrupted: outcome.interrupted,
      tornBytes: journals.tornBytes[0]!,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    journals.close();
  }
}

export function formatGenerateSummary(s: GenerateSummary, outFile: string): string {
  const lines = [
    `${s.interrupted ? 'interrupted' : 'finished'} in ${s.seconds.toFixed(1)} s: ${s.done} done, ${s.skipped} skipped as already done, ` +
      `${s.failed.length} failed${s.notRun ? `, ${s.notRun} not run` : ''}${s.duplicates ? `, ${s.duplicates} duplicate pairs` : ''} (of ${s.total})`,
    `tokens: ${s.promptTokens} prompt, ${s.completionTokens} completion${s.truncated ? `; ${s.truncated} rationales hit --max-new-tokens` : ''}` +
      (s.done > 0 ? `; ${(s.done / s.seconds).toFixed(2)} pairs/s` : ''),
    `output: ${outFile}`,
  ];
  if (s.failed.length > 0) {
    lines.push(`failed pairs (rerun the same command to retry them):`);
    for (const f of s.failed.slice(0, 10)) lines.push(`  ${f.id}: ${f.error}`);
    if (s.failed.length > 10) lines.push(`  … and ${s.failed.length - 10} more`);
  }
  return lines.join('\n');
}
