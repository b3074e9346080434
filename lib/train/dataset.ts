// Files → tokenized training and evaluation examples: load and validate the pairs, split off a
// held-out set, take the (nested, seeded) training subset, tokenize with TRL's conventions and
// build the rationale-conditioning rows where the loss uses them.
import { loadPreferences, type LoadReport } from '../data/load.js';
import { isHubDatasetSpec } from '../hub/dataset_spec.js';
import { resolveDataset, type ResolvedDataset } from '../hub/resolve_dataset.js';
import type { PreferencePair } from '../data/schema.js';
import { selectSubset, splitEval } from '../data/subset.js';
import { truncationModeFor, type TruncationMode, type TruncationSetting } from '../data/truncation.js';
import type { PromptFormat } from '../tokenize/prompt_format.js';
import { tokenizePreferences, type PreferenceTokenizeStats, type WarnFn } from '../tokenize/preference_tokens.js';
import { tokenizeRationales } from '../tokenize/rationale_conditioning.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import type { PreferenceExample } from './preference_batch.js';

export interface ExampleWithId extends PreferenceExample {
  id: string;
}

export interface PreparedData {
  train: ExampleWithId[];
  eval: ExampleWithId[];
  load: LoadReport;
  /** A hub dataset's repository, the commit its revision resolved to, the split and its files. */
  hub?: ResolvedDataset;
  tokenization: {
    pairs: PreferenceTokenizeStats;
    rationalesTruncated: number;
    /** Pairs left out because their rationale row cannot fit maxLength — for every loss alike. */
    rationalesDropped: number;
    promptFormat: PromptFormat;
    truncationMode: TruncationMode;
  };
}

export interface PrepareOptions {
  data: string | PreferencePair[];
  dataFormat?: string;
  skipInvalid?: boolean;
  limit?: number;
  seed: number;
  evalSize?: number;
  evalFraction?: number;
  maxLength: number;
  maxPromptLength: number;
  /** The loss trains on rationales. */
  rationale: boolean;
  /** The resolved prompt-format rule (tokenize/prompt_format.ts). */
  promptFormat: PromptFormat;
  truncationMode?: TruncationSetting;
  /**
   * Leave out the pairs whose rationale cannot fit even when this loss does not train on rationales,
   * so that every arm of a comparison sees the same pairs (default true; SFT runs pass false).
   */
  sameAsRationaleArm?: boolean;
  warn?: WarnFn;
  /** Where a hub dataset's download says what it fetches. */
  log?: (message: string) => void;
}

export async function prepareTrainingData(tokenizer: Tokenizer, opts: PrepareOptions): Promise<PreparedData> {
  let pairs: PreferencePair[];
  let load: LoadReport;
  let hub: ResolvedDataset | undefined;
  if (typeof opts.data === 'string') {
    // A hub dataset (org/name[@rev][:split]) is its split's files in the Hugging Face cache.
    if (isHubDatasetSpec(opts.data)) hub = await resolveDataset(opts.data, opts.log ? { log: opts.log } : {});
    ({ pairs, report: load } = await loadPreferences(hub ? { label: opts.data, files: hub.files } : opts.data, {
      ...(opts.dataFormat ? { format: opts.dataFormat as never } : {}),
      skipInvalid: opts.skipInvalid ?? false,
    }));
  } else {
    pairs = opts.data;
    load = { format: 'in-memory', rows: pairs.length, valid: pairs.length, invalid: 0, duplicates: 0 } as unknown as LoadReport;
  }
  const source = typeof opts.data === 'string' ? opts.data : 'the data';
  if (opts.rationale) {
    const missing = pairs.filter((p) => !p.rationale || p.rationale.trim() === '');
    if (missing.length > 0) {
      throw new Error(
        `${missing.length} of ${pairs.length} pairs in ${source} have no rationale (e.g. id ${missing[0]!.id}), ` +
          'but this loss trains on rationales. Generate them with `rdpo-native rationales --data … --out …`, ' +
          'or use --loss dpo.',
      );
    }
  }
  const split =
    opts.evalSize || opts.evalFraction
      ? splitEval(pairs, { ...(opts.evalSize ? { evalSize: opts.evalSize } : { evalFraction: opts.evalFraction! }), seed: opts.seed })
      : { train: pairs, eval: [] as PreferencePair[] };
  const trainPairs = selectSubset(split.train, { ...(opts.limit ? { limit: opts.limit } : {}), seed: opts.seed });

  const truncationMode = truncationModeFor(opts.truncationMode ?? 'auto', load.format);
  // When every pair has a rationale, the rationale rows are built for every loss, and a pair whose
  // rationale cannot fit is left out of every arm: DPO and RDPO then train on the same pairs at the same N.
  const withRationales =
    opts.rationale || ((opts.sameAsRationaleArm ?? true) && pairs.length > 0 && pairs.every((p) => p.rationale !== undefined && p.rationale.trim() !== ''));
  const tokenizeSet = (set: PreferencePair[]) => {
    const tokenized = tokenizePreferences(tokenizer, set, {
      format: opts.promptFormat,
      maxLength: opts.maxLength,
      maxPromptLength: opts.maxPromptLength,
      truncationMode,
      ...(opts.warn ? { warn: opts.warn } : {}),
    });
    const rationales = withRationales
      ? tokenizeRationales(
          tokenizer,
          set.map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, rationale: p.rationale!, ...(p.system ? { system: p.system } : {}) })),
          { maxLength: opts.maxLength, ...(opts.warn ? { warn: opts.warn } : {}) },
        )
      : undefined;
    const rationaleByIndex = new Map(rationales?.items.map((r) => [r.index, r]) ?? []);
    const examples: ExampleWithId[] = [];
    for (const p of tokenized.pairs) {
      const r = rationaleByIndex.get(p.index);
      if (withRationales && !r) continue; // its rationale cannot fit: left out of every arm, counted below
      examples.push({
        id: set[p.index]!.id,
        pair: { promptIds: p.promptIds, chosenIds: p.chosenIds, rejectedIds: p.rejectedIds },
        ...(r && opts.rationale ? { rationale: { promptIds: r.promptIds, rationaleIds: r.rationaleIds } } : {}),
      });
    }
    return { examples, stats: tokenized.stats, rationaleStats: rationales?.stats };
  };
  const train = tokenizeSet(trainPairs);
  const evalSet = tokenizeSet(split.eval);
  if (train.examples.length === 0) throw new Error(`no training pairs left in ${source} after splitting and truncation`);
  return {
    train: train.examples,
    eval: evalSet.examples,
    load,
    ...(hub ? { hub } : {}),
    tokenization: {
      pairs: train.stats,
      rationalesTruncated: train.rationaleStats?.truncated ?? 0,
      rationalesDropped: train.rationaleStats?.dropped ?? 0,
      promptFormat: opts.promptFormat,
      truncationMode,
    },
  };
}
