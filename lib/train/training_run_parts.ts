// What a TrainingRun (training_run.ts) is made of, and what one of its optimiser steps reports.
import type { CausalLM } from '../model/causal_lm.js';
import type { NativeBinding, NativePreferenceBatch, NativeTrainer } from '../native/binding.js';
import type { TrainerState } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import type { DataParallel } from './data_parallel.js';
import type { ExampleWithId } from './dataset.js';
import type { MetricsLog, MetricsRow } from './metrics.js';

/** Reference log-probs of a split's pairs, by the pair's index in the split. */
export interface ReferenceValues {
  chosen: Float32Array;
  rejected: Float32Array;
}

/** What a training run is made of; every field is one the run reads while it trains. */
export interface TrainingRunParts {
  native: NativeBinding;
  config: TrainConfig;
  runDir: string;
  /** Rank 0 (or the only rank): the one that logs and writes. */
  main: boolean;
  log: (m: string) => void;
  train: ExampleWithId[];
  eval: ExampleWithId[];
  refTrain?: ReferenceValues;
  refEval?: ReferenceValues;
  policy: CausalLM;
  trainer: NativeTrainer;
  dp?: DataParallel;
  /** ZeRO-1 over the ranks of `dp`. */
  zero?: boolean;
  /** A LoRA run: checkpoints and final/ hold the adapter (`saveWeights`), the base is frozen. */
  lora?: boolean;
  loraDropout?: boolean;
  saveWeights?: (dir: string) => Promise<void>;
  /** Micro-batches in one epoch; `totalSteps` optimiser steps make the run. */
  microPerEpoch: number;
  totalSteps: number;
  state: TrainerState;
  metrics?: MetricsLog;
  /** The matmul peak of one rank (MFU's denominator); without it the rows have no `mfu`. */
  peakFlopsPerSec?: number;
  /** The FLOP convention's N (model/flops.ts). */
  matmulParams: number;
  /** 'shuffled' (a run: each epoch in its seeded order) or 'given' (the bench: the pairs as listed). */
  order?: 'shuffled' | 'given';
  /** Measure each loss term's share of the update on the first step and before each evaluation (default true). */
  measureTermNorms?: boolean;
}

/** One optimiser step as it happened. */
export interface StepReport {
  row: MetricsRow;
  /** Tokens the policy computed (a shared prompt once, padding included), over every rank. */
  packedTokens: number;
  /** Seconds in this rank's batch assembly, forward + loss + backward, and optimiser step. */
  phases: { pack: number; forward_loss_backward: number; optimizer: number };
  /** This rank's last micro-batch (undefined when the ranks outnumber its pairs). */
  lastBatch: NativePreferenceBatch | undefined;
}
