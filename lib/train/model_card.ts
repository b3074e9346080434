// README.md beside the weights (final/ and each checkpoint), the way the hub reads a model card:
// YAML front matter (base_model, library_name, tags, datasets; huggingface.co/docs/hub/model-cards)
// then what was trained: the loss with its citation, the data counts, the configuration, the final
// and evaluation metrics, and the command that trains the same run again.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { isHubDatasetSpec, parseHubDatasetSpec } from '../hub/dataset_spec.js';
import { isHubModelSpec } from '../hub/resolve_model.js';
import { lossSpec, resolveTrainConfig, TrainConfigSchema, type TrainConfig } from './config.js';
import { readMetricsLog, type MetricsRow } from './metrics.js';

export interface ModelCardOptions {
  /** The optimiser step the weights beside the card hold. */
  step: number;
  totalSteps: number;
  /** The directory holds a PEFT adapter, not the model. */
  lora: boolean;
  /** Why training ended before totalSteps (early stopping, an interruption). */
  stopped?: string;
}

interface RunRecord {
  data?: {
    load?: { format?: string; rows?: number; valid?: number; invalid?: number; duplicates?: number; pairs?: number };
    trainPairs?: number;
    evalPairs?: number;
  };
  versions?: Record<string, string>;
  dataParallel?: { worldSize: number };
}

const hubId = (spec: string) => spec.split('@')[0]!;
const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '')) : String(v));
const table = (header: [string, string], rows: Array<[string, unknown]>) =>
  [`| ${header[0]} | ${header[1]} |`, '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${fmt(v).replace(/\|/g, '\\|')} |`)].join('\n');

/** A shell word: left bare when it is plain, else single-quoted. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@=,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/**
 * `rdpo-native train …` with every setting that differs from what the same model, data and loss
 * would get by default (preset values spelled out), local paths made absolute.
 */
export function reproduceCommand(config: TrainConfig, worldSize = 1): string {
  const baseline = resolveTrainConfig({ model: config.model, data: config.data, loss: config.loss }) as Record<string, unknown>;
  const c = config as unknown as Record<string, unknown>;
  const words = ['rdpo-native', 'train'];
  const keys = ['model', 'data', 'loss', ...Object.keys(TrainConfigSchema.shape).filter((k) => !['model', 'data', 'loss'].includes(k))];
  for (const key of keys) {
    if (['out', 'resume', 'preset'].includes(key)) continue;
    let value = c[key];
    if (value === undefined || (!['model', 'data', 'loss'].includes(key) && JSON.stringify(value) === JSON.stringify(baseline[key]))) continue;
    if (typeof value === 'string' && ['model', 'refModel', 'data', 'adapter'].includes(key) && existsSync(value)) value = path.resolve(value);
    if (typeof value === 'boolean') {
      words.push(value ? `--${kebab(key)}` : `--no-${kebab(key)}`);
      continue;
    }
    words.push(`--${kebab(key)}`, shellWord(Array.isArray(value) ? value.join(',') : String(value)));
  }
  if (worldSize > 1) words.push('--nproc', String(worldSize));
  return words.join(' ');
}

/** The model card of a run's weights at `opts.step`, from its config.json and metrics.jsonl. */
export function modelCard(runDir: string, config: TrainConfig, opts: ModelCardOptions): string {
  const recordFile = path.join(runDir, 'config.json');
  const record = existsSync(recordFile) ? (JSON.parse(readFileSync(recordFile, 'utf8')) as RunRecord) : {};
  const rows = readMetricsLog(path.join(runDir, 'metrics.jsonl')).filter((r) => r.step <= opts.step);
  const spec = lossSpec(config.loss);
  const md: string[] = [
    '---',
    YAML.stringify(frontMatter(config, opts)).trimEnd(),
    '---',
    '',
    ...introLines(runDir, config, opts, spec, record),
    ...lossLines(config, spec),
    ...dataLines(config, record),
    ...resultLines(rows, record),
    ...configurationLines(config, record),
  ];
  return md.join('\n');
}

type LossSpec = ReturnType<typeof lossSpec>;

/** The hub's YAML metadata: base model and dataset when they are hub ids, library, tags. */
function frontMatter(config: TrainConfig, opts: ModelCardOptions): Record<string, unknown> {
  const baseModel = isHubModelSpec(config.model) ? hubId(config.model) : undefined;
  const dataset = isHubDatasetSpec(config.data) ? parseHubDatasetSpec(config.data)!.repo : undefined;
  return {
    ...(baseModel ? { base_model: baseModel } : {}),
    library_name: opts.lora ? 'peft' : 'transformers',
    pipeline_tag: 'text-generation',
    tags: ['rdpo-native', config.loss, ...(config.loss === 'sft' ? ['sft'] : ['preference-alignment']), ...(opts.lora ? ['lora'] : [])],
    ...(dataset ? { datasets: [dataset] } : {}),
  };
}

/** The title, what the weights are, and which step they hold. */
function introLines(runDir: string, config: TrainConfig, opts: ModelCardOptions, spec: LossSpec, record: RunRecord): string[] {
  return [
    `# ${path.basename(path.resolve(runDir))}`,
    '',
    `${opts.lora ? 'A LoRA adapter (PEFT format) for' : 'A fine-tune of'} \`${config.model}\`, trained with **${config.loss.toUpperCase()}** (${spec.summary}) by rdpo-native${record.versions?.rdpoNative ? ` ${record.versions.rdpoNative}` : ''}.`,
    '',
    opts.stopped
      ? `**These weights are from step ${opts.step} of ${opts.totalSteps}**: training stopped early (${opts.stopped}).`
      : opts.step < opts.totalSteps
        ? `These weights are a checkpoint at step ${opts.step} of ${opts.totalSteps}.`
        : `These weights are the end of training: step ${opts.step} of ${opts.totalSteps}.`,
    '',
  ];
}

/** The loss, its source, and the settings of it that apply. */
function lossLines(config: TrainConfig, spec: LossSpec): string[] {
  return [
    '## Loss',
    '',
    `${config.loss}: ${spec.summary}. Source: ${spec.citation}.`,
    '',
    table(
      ['setting', 'value'],
      [
        ['beta', config.beta],
        ...(spec.needsRationale
          ? ([
              ['gamma', config.gamma],
              ['rationaleForm', config.rationaleForm],
              ['rationaleNorm', config.rationaleNorm],
            ] as Array<[string, unknown]>)
          : []),
        ...(config.loss === 'dpo' || config.loss === 'rdpo'
          ? ([
              ['dpoVariant', config.dpoVariant],
              ['labelSmoothing', config.labelSmoothing],
            ] as Array<[string, unknown]>)
          : []),
        ...(config.loss.includes('simpo') ? ([['simpoMargin', config.simpoMargin]] as Array<[string, unknown]>) : []),
        ...(config.sftWeight > 0 ? ([['sftWeight', config.sftWeight]] as Array<[string, unknown]>) : []),
      ],
    ),
    '',
  ];
}

/** The data and what loading it counted. */
function dataLines(config: TrainConfig, record: RunRecord): string[] {
  const load = record.data?.load;
  return [
    '## Data',
    '',
    `\`${config.data}\`${load?.format ? ` (format ${load.format})` : ''}:`,
    '',
    table(
      ['count', 'value'],
      [
        ...(load?.rows !== undefined
          ? ([
              ['rows read', load.rows],
              ['invalid rows', load.invalid ?? 0],
              ['duplicate pairs dropped', load.duplicates ?? 0],
              ['distinct pairs', load.pairs ?? 0],
            ] as Array<[string, unknown]>)
          : []),
        ['training pairs', record.data?.trainPairs ?? 'n/a'],
        ['evaluation pairs', record.data?.evalPairs ?? 0],
      ],
    ),
    '',
  ];
}

/** The last training and evaluation metrics logged up to the card's step. */
function resultLines(rows: readonly MetricsRow[], record: RunRecord): string[] {
  const lastTrain = rows.filter((r) => !r.eval).at(-1);
  const lastEval = rows.filter((r) => r.eval).at(-1);
  const metricRows = (row: MetricsRow | undefined) =>
    row ? Object.entries(row).filter(([k, v]) => k !== 'eval' && k !== 'step' && typeof v === 'number') : [];
  const md = ['## Results', ''];
  if (lastTrain) md.push(`Last training step (${lastTrain.step}):`, '', table(['metric', 'value'], metricRows(lastTrain)), '');
  if (lastEval)
    md.push(
      `Evaluation at step ${lastEval.step} on ${record.data?.evalPairs ?? '?'} held-out pairs:`,
      '',
      table(['metric', 'value'], metricRows(lastEval)),
      '',
    );
  if (!lastTrain && !lastEval) md.push('No metrics were logged before these weights were written.', '');
  return md;
}

/** Every setting, the command that trains the same run again, and the framework versions. */
function configurationLines(config: TrainConfig, record: RunRecord): string[] {
  return [
    '## Training configuration',
    '',
    table(
      ['key', 'value'],
      Object.entries(config)
        .filter(([k, v]) => v !== undefined && k !== 'resume')
        .map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
    ),
    '',
    '## Reproduce',
    '',
    '```sh',
    reproduceCommand(config, record.dataParallel?.worldSize),
    '```',
    '',
    ...(record.versions ? ['## Framework versions', '', ...Object.entries(record.versions).map(([k, v]) => `- ${k}: ${v}`), ''] : []),
  ];
}
