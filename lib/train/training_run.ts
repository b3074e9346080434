// A training run once it is set up (training_run_setup.ts builds one for train(); the bench builds
// one over its own pairs): it builds the micro-batches of each optimiser step in the run's data
// order, steps the native trainer, evaluates on the held-out pairs, and writes checkpoints and
// final/. Its state (step, micro-batches, tokens) is the checkpoint's trainer_state.json, so a
// resumed run continues exactly where the checkpoint stood.
import path from 'node:path';
import { CausalLM } from '../model/causal_lm.js';
import type { ComputeDtype } from '../model/compute_dtype.js';
import { modelFlopsUtilization } from '../model/flops.js';
import type { NativeBinding, NativePreferenceBatch, NativeTrainer } from '../native/binding.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic_write.js';
import { SeededRandom } from '../util/random.js';
import { checkpointName, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { lossSpec, nativeTrainerOptions, type TrainConfig } from './config.js';
import { shareOf, type DataParallel, type LocalMetrics } from './data_parallel.js';
import type { ExampleWithId } from './dataset.js';
import { StepAccumulator, type MetricsLog, type MetricsRow } from './metrics.js';
import { packPreferenceBatch } from './preference_batch.js';
import { gradientSyncReport } from './data_parallel_report.js';
import { nonFiniteError } from './non_finite.js';
import { learningRateAt } from './schedule.js';
import type { ReferenceValues, StepReport, TrainingRunParts } from './training_run_parts.js';
import { weightsFiles } from './weights_files.js';

export type { ReferenceValues, StepReport, TrainingRunParts } from './training_run_parts.js';

/** What the micro-batches of one step add up. */
interface StepParts {
  acc: StepAccumulator;
  /** Data-parallel: each micro-batch's metrics of this rank, reduced over the ranks after the last. */
  locals: LocalMetrics[];
  termNorms: Record<string, number>;
  phases: StepReport['phases'];
}

// Token counts add up over micro-batches and ranks; every other metric is averaged.
const SUMMED_METRICS = ['tokens', 'rationale_tokens', 'packed_tokens'];

const secondsSince = (from: number) => (performance.now() - from) / 1000;

export class TrainingRun {
  readonly native: NativeBinding;
  readonly config: TrainConfig;
  readonly runDir: string;
  readonly main: boolean;
  readonly policy: CausalLM;
  readonly trainer: NativeTrainer;
  readonly totalSteps: number;
  readonly microPerEpoch: number;
  /** Where the run stands: written into every checkpoint as trainer_state.json. */
  readonly state: TrainerState;
  readonly dp: DataParallel | undefined;
  readonly train: ExampleWithId[];
  readonly eval: ExampleWithId[];
  private readonly parts: TrainingRunParts;
  private readonly batchParts: { rejected: boolean; rationale: boolean };
  private orderCache = new Map<number, number[]>();
  private reportedSync = false;
  private metricsClosed = false;

  constructor(parts: TrainingRunParts) {
    this.parts = parts;
    this.native = parts.native;
    this.config = parts.config;
    this.runDir = parts.runDir;
    this.main = parts.main;
    this.policy = parts.policy;
    this.trainer = parts.trainer;
    this.totalSteps = parts.totalSteps;
    this.microPerEpoch = parts.microPerEpoch;
    this.state = parts.state;
    this.dp = parts.dp;
    this.train = parts.train;
    this.eval = parts.eval;
    const spec = lossSpec(parts.config.loss);
    this.batchParts = { rejected: spec.needsRejected, rationale: spec.needsRationale };
  }

  /**
   * A run over `examples` in the order given, on a float32 policy loaded from `config.model`: no
   * run directory, no metrics log, no held-out pairs (the bench's training path).
   */
  static async overExamples(opts: {
    native: NativeBinding;
    config: TrainConfig;
    computeDtype: ComputeDtype;
    examples: ExampleWithId[];
    refTrain?: ReferenceValues;
    measureTermNorms?: boolean;
  }): Promise<TrainingRun> {
    const { native, config, examples } = opts;
    const policy = await CausalLM.load(config.model, { dtype: 'float32', device: config.device });
    const trainer = await native.createTrainer(policy.nativeHandle, nativeTrainerOptions(config, opts.computeDtype));
    const microPerEpoch = Math.ceil(examples.length / config.batchSize);
    return new TrainingRun({
      native,
      config,
      runDir: '',
      main: false,
      log: () => {},
      train: examples,
      eval: [],
      ...(opts.refTrain ? { refTrain: opts.refTrain } : {}),
      policy,
      trainer,
      microPerEpoch,
      totalSteps: Math.ceil(microPerEpoch / config.gradAccum),
      state: { step: 0, totalSteps: 0, microBatches: 0, totalTokens: 0, configDigest: '', version: '', savedAt: '' },
      matmulParams: 0,
      order: 'given',
      measureTermNorms: opts.measureTermNorms ?? false,
    });
  }

  /** The training pairs' order in an epoch: the run's seeded shuffle (or the order given). */
  private epochOrder(epoch: number): number[] {
    let order = this.orderCache.get(epoch);
    if (!order) {
      const indices = this.train.map((_, i) => i);
      order = this.parts.order === 'given' ? indices : new SeededRandom(this.config.seed * 1000003 + epoch).shuffle(indices);
      this.orderCache.clear();
      this.orderCache.set(epoch, order);
    }
    return order;
  }

  /** The packed micro-batch of `indices` into `set`, with their reference log-probs when the loss has a reference. */
  batchFor(indices: number[], set: ExampleWithId[], ref?: ReferenceValues): NativePreferenceBatch & ReturnType<typeof packPreferenceBatch> {
    const packed = packPreferenceBatch(
      indices.map((i) => set[i]!),
      this.batchParts,
    );
    const batch: NativePreferenceBatch & typeof packed = { ...packed };
    if (ref) {
      batch.refChosen = Float32Array.from(indices, (i) => ref.chosen[i]!);
      batch.refRejected = Float32Array.from(indices, (i) => ref.rejected[i]!);
    }
    return batch;
  }

  /** Whether an evaluation runs right after optimiser step `step` (periodic, or the final one). */
  evaluatesAfter(step: number): boolean {
    const { evalEvery } = this.config;
    return this.eval.length > 0 && ((evalEvery > 0 && step % evalEvery === 0) || step === this.totalSteps);
  }

  /** Whether a periodic evaluation (--eval-every) follows optimiser step `step`. */
  periodicEvaluationAfter(step: number): boolean {
    return this.config.evalEvery > 0 && step % this.config.evalEvery === 0;
  }

  /** Whether a periodic checkpoint (--save-every) follows optimiser step `step`. */
  periodicCheckpointAfter(step: number): boolean {
    return this.config.saveEvery > 0 && step % this.config.saveEvery === 0;
  }

  /** Whether any rank asks to stop (`here`: this one does); data-parallel, every rank stops at the same step. */
  async anyRankStops(here: boolean): Promise<boolean> {
    return this.dp ? this.dp.anyAtStep(here, this.state.step, this.state.microBatches) : here;
  }

  /** One micro-batch of this rank: its pairs of the global micro-batch, forward, loss and backward. */
  private async accumulate(k: number, into: StepParts) {
    const { config, dp, state } = this;
    const started = performance.now();
    const mb = state.microBatches++;
    const order = this.epochOrder(Math.floor(mb / this.microPerEpoch));
    const pos = mb % this.microPerEpoch;
    let indices = order.slice(pos * config.batchSize, (pos + 1) * config.batchSize);
    // Data-parallel: this rank's slice of the global micro-batch, its loss scaled by its share
    // of the pairs, so the gradients summed over the ranks are the global batch mean's.
    let share = 1;
    if (dp) {
      const { start, end } = shareOf(indices.length, dp.rank, dp.worldSize);
      share = (end - start) / indices.length;
      indices = indices.slice(start, end);
      if (indices.length === 0) {
        into.locals.push({ pairs: 0, values: undefined });
        return undefined;
      }
    }
    const batch = this.batchFor(indices, this.train, this.parts.refTrain);
    // Dropout masks from the run's seed and the micro-batch's position: a resumed run draws the same ones.
    if (this.parts.loraDropout) this.native.manualSeed(config.seed * 1_000_003 + mb);
    const packedAt = performance.now();
    // Data-parallel: the last micro-batch's backward starts the gradient all-reduce bucket by bucket.
    // Each term's share of the update (grad_norm/preference, grad_norm/rationale): on the first
    // step and on each step an evaluation follows, from its first micro-batch.
    const measureTerms = (this.parts.measureTermNorms ?? true) && k === 0 && (state.step === 0 || this.evaluatesAfter(state.step + 1));
    const {
      'grad_norm/preference': gradPreference,
      'grad_norm/rationale': gradRationale,
      ...values
    } = await this.trainer.accumulate(batch, share / config.gradAccum, dp !== undefined && k === config.gradAccum - 1, measureTerms);
    // This rank's own measurement (not averaged over the ranks or micro-batches).
    if (gradPreference !== undefined && gradRationale !== undefined)
      into.termNorms = { 'grad_norm/preference': gradPreference, 'grad_norm/rationale': gradRationale };
    into.phases.pack += (packedAt - started) / 1000;
    into.phases.forward_loss_backward += secondsSince(packedAt);
    const row = { ...values, tokens: batch.pairTokens, rationale_tokens: batch.rationaleTokens };
    if (dp) into.locals.push({ pairs: indices.length, values: row });
    else into.acc.add(row);
    return batch;
  }

  /**
   * One optimiser step: `gradAccum` micro-batches, then clipping and AdamW at the step's learning
   * rate. Writes the step's metrics.jsonl row. Throws NonFiniteTrainingError on a non-finite loss
   * or gradient norm with `onNonfinite: 'stop'` (the weights keep the last finite step's values).
   */
  async step(): Promise<StepReport> {
    const { config, dp, state } = this;
    const started = performance.now();
    const acc = new StepAccumulator();
    const into: StepParts = { acc, locals: [], termNorms: {}, phases: { pack: 0, forward_loss_backward: 0, optimizer: 0 } };
    let packedTokens = 0;
    let lastBatch: (NativePreferenceBatch & { packedTokens: number }) | undefined;
    for (let k = 0; k < config.gradAccum; k++) {
      lastBatch = await this.accumulate(k, into);
      if (lastBatch) packedTokens += lastBatch.packedTokens;
    }
    if (dp) {
      const reduced = await dp.reduceMetrics(into.locals, SUMMED_METRICS, [packedTokens]);
      for (const m of reduced.metrics) acc.add(m);
      packedTokens = reduced.extra[0]!;
    }
    const schedule = { lr: config.lr, warmupSteps: config.warmupSteps, totalSteps: this.totalSteps, schedule: config.schedule, warmupForm: config.warmupForm };
    const lr = learningRateAt(state.step, schedule);
    const values = acc.result(SUMMED_METRICS) as Record<string, number> & { loss: number; tokens: number };
    // Checked before the step so that 'stop' leaves the weights as the last finite step made them;
    // the native step itself refuses a non-finite gradient (the weights never see it).
    if (!Number.isFinite(values.loss) && config.onNonfinite === 'stop') throw nonFiniteError(this.runDir, state.step + 1, 'loss', values.loss);
    const optimizerAt = performance.now();
    const gradNorm = await this.trainer.step(lr, config.maxGradNorm);
    into.phases.optimizer = secondsSince(optimizerAt);
    const finite = Number.isFinite(gradNorm) && Number.isFinite(values.loss);
    if (!finite) {
      if (config.onNonfinite === 'stop') throw nonFiniteError(this.runDir, state.step + 1, 'gradient norm', gradNorm);
      this.parts.log(
        `warning: step ${state.step + 1}: non-finite loss (${values.loss}) or gradient norm (${gradNorm}); the update was skipped (--on-nonfinite skip-step)`,
      );
    }
    state.step++;
    if (dp && !this.reportedSync) {
      this.reportedSync = true;
      for (const line of gradientSyncReport(dp, this.trainer, { zero: this.parts.zero ?? false, parameters: this.parts.matmulParams })) this.parts.log(line);
    }
    const row = this.stepRow(values, { finite, termNorms: into.termNorms, lr, gradNorm, packedTokens, seconds: secondsSince(started) });
    this.parts.metrics?.write(row);
    return { row, packedTokens, phases: into.phases, lastBatch };
  }

  private stepRow(
    values: Record<string, number> & { loss: number; tokens: number },
    s: { finite: boolean; termNorms: Record<string, number>; lr: number; gradNorm: number; packedTokens: number; seconds: number },
  ): MetricsRow {
    const { state, dp } = this;
    const { peakFlopsPerSec, lora } = this.parts;
    state.totalTokens += values.tokens;
    return {
      ...values,
      ...(s.finite ? {} : { skipped: true }),
      ...s.termNorms,
      step: state.step,
      epoch: state.microBatches / this.microPerEpoch,
      learning_rate: s.lr,
      grad_norm: s.gradNorm,
      total_tokens: state.totalTokens,
      tokens_per_sec: (values.tokens + (values.rationale_tokens ?? 0)) / s.seconds,
      // The rows the policy computed, forward and backward; reference log-probs were computed
      // before training (reference.ts), so no reference work falls in the step. Data-parallel:
      // the tokens of every rank, over every rank's peak.
      // A LoRA run's base is frozen (model/flops.ts: `frozen` tokens). Not applicable (absent) where it
      // would read above 100%.
      mfu:
        peakFlopsPerSec === undefined
          ? undefined
          : (modelFlopsUtilization({
              matmulParams: this.parts.matmulParams,
              tokens: lora ? { trained: 0, reference: 0, frozen: s.packedTokens } : { trained: s.packedTokens, reference: 0 },
              seconds: s.seconds,
              peakFlopsPerSec: peakFlopsPerSec * (dp ? dp.worldSize : 1),
            }) ?? undefined),
    };
  }

  /** Loss and metrics on the held-out pairs (no gradients), written as an `eval: true` row; undefined without held-out pairs. */
  async evaluate(): Promise<MetricsRow | undefined> {
    const { config, dp } = this;
    if (this.eval.length === 0) return undefined;
    const acc = new StepAccumulator();
    const locals: LocalMetrics[] = [];
    for (let start = 0; start < this.eval.length; start += config.batchSize) {
      let idx = Array.from({ length: Math.min(config.batchSize, this.eval.length - start) }, (_, k) => start + k);
      if (dp) {
        const share = shareOf(idx.length, dp.rank, dp.worldSize);
        idx = idx.slice(share.start, share.end);
        if (idx.length === 0) {
          locals.push({ pairs: 0, values: undefined });
          continue;
        }
      }
      const batch = this.batchFor(idx, this.eval, this.parts.refEval);
      const values = { ...(await this.trainer.evaluate(batch)), tokens: batch.pairTokens };
      if (dp) locals.push({ pairs: idx.length, values });
      else acc.add(values);
    }
    if (dp) for (const m of (await dp.reduceMetrics(locals, SUMMED_METRICS)).metrics) acc.add(m);
    const row: MetricsRow = {
      step: this.state.step,
      epoch: this.state.microBatches / this.microPerEpoch,
      ...(acc.result(SUMMED_METRICS) as { loss: number; tokens: number }),
      eval: true,
    };
    this.parts.metrics?.write(row);
    return row;
  }

  /** The README.md and trainer_state.json (TRL's fields) that go with the weights; rank 0 only. */
  private describe(stopped?: string): Record<string, string> {
    return this.main ? weightsFiles(this.runDir, this.config, this.state, { lora: this.parts.lora ?? false, ...(stopped ? { stopped } : {}) }) : {};
  }

  /** checkpoints/step-N for the current step (`stopped`: why the run stops there); returns its directory. */
  async checkpoint(stopped?: string): Promise<string> {
    const dir = path.join(this.runDir, 'checkpoints', checkpointName(this.state.step));
    this.state.savedAt = new Date().toISOString();
    if (this.main) await saveCheckpoint(dir, this.policy, this.trainer, { ...this.state }, this.parts.saveWeights, this.describe(stopped));
    // ZeRO-1: gathering the optimizer state to rank 0 is a collective (only rank 0 writes).
    else if (this.parts.zero) await this.trainer.saveOptimizerState(path.join(dir, 'optimizer.safetensors'));
    return dir;
  }

  /** final/: the trained weights (after a stop, `stopped` says why, those of the step it stopped at). */
  async saveFinal(stopped?: string): Promise<string> {
    const finalDir = path.join(this.runDir, 'final');
    if (this.main) {
      this.state.savedAt = new Date().toISOString();
      const files = this.describe(stopped);
      const saveWeights = this.parts.saveWeights;
      await writeDirAtomic(finalDir, async (tmp) => {
        if (saveWeights) await saveWeights(tmp);
        else await this.policy.save(tmp, { dtype: 'float32' });
        for (const [name, text] of Object.entries(files)) writeFileAtomic(path.join(tmp, name), text);
      });
    }
    return finalDir;
  }

  /** Closes metrics.jsonl (and the trackers); close() does so too when this was not called. */
  closeMetrics(): void {
    if (this.metricsClosed) return;
    this.metricsClosed = true;
    this.parts.metrics?.close();
  }

  /** Closes the metrics log and frees the policy (and with it the trainer's hold on it). */
  close(): void {
    this.closeMetrics();
    this.policy.dispose();
  }
}
