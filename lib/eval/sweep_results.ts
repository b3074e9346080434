// What a data-efficiency sweep (eval/compare.ts) produces and its report (report/sweep_report.ts)
// reads: a module of its own, so that the report does not import the sweep that imports it.
import type { TrainConfigInput } from '../train/config.js';
import type { GenerationStats } from './generate.js';
import type { SamplingSettings } from '../inference/text_generator.js';
import type { PairwiseSummary } from './pairwise.js';
import type { PreferenceEvalResult } from './preference_eval.js';

export type SweepMethod = 'dpo' | 'rdpo';

export interface SweepRow {
  method: SweepMethod;
  size: number;
  steps: number;
  preference: PreferenceEvalResult;
  generation: GenerationStats;
  vsSft: PairwiseSummary;
}

export interface SweepResults {
  model: string;
  data: string;
  sizes: number[];
  evalPairs: number;
  trainPool: number;
  prompts: { source: string; count: number };
  judge: string;
  judgeKind: 'llm' | 'exact';
  repeats: number;
  seed: number;
  beta: number;
  sampling: SamplingSettings;
  train: Partial<TrainConfigInput>;
  sft: { steps: number; preference: PreferenceEvalResult; generation: GenerationStats; trainSize: number };
  rows: SweepRow[];
  rdpoVsDpo: Array<{ size: number; summary: PairwiseSummary }>;
}
