// RUN_DIR/report.md for one training run: curves of metrics.jsonl (Vega-Lite → SVG in RUN_DIR/plots/,
// as the sweep report draws them) and a table of the run's configuration and final metrics.
// A chart is drawn only when the run logged its metrics (a DPO run has no rationale NLL, an SFT run
// no reward margins); evaluation rows are drawn beside the training rows of the same metric.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readMetricsLog, type MetricsRow } from '../train/metrics.js';
import { writeFileAtomic } from '../util/atomic_write.js';
import { lineChartSpec, renderVegaLiteSvg } from './vega_svg.js';

interface Chart {
  file: string;
  title: string;
  /** Metric keys drawn as series; `eval` adds the evaluation rows of the same keys. */
  metrics: string[];
  eval?: boolean;
  y: string;
  format?: string;
  domain?: [number, number];
  rule?: number;
}

const CHARTS: Chart[] = [
  { file: 'loss.svg', title: 'Loss (training and evaluation)', metrics: ['loss'], eval: true, y: 'loss' },
  { file: 'reward_margins.svg', title: 'Reward margin (chosen − rejected)', metrics: ['rewards/margins'], eval: true, y: 'margin', rule: 0 },
  {
    file: 'reward_accuracies.svg',
    title: 'Reward accuracy',
    metrics: ['rewards/accuracies'],
    eval: true,
    y: 'accuracy',
    format: '.0%',
    domain: [0, 1],
    rule: 0.5,
  },
  { file: 'rewards.svg', title: 'Implicit rewards', metrics: ['rewards/chosen', 'rewards/rejected'], y: 'reward' },
  { file: 'logps.svg', title: 'Log-probabilities of the completions', metrics: ['logps/chosen', 'logps/rejected'], eval: true, y: 'summed log-prob' },
  { file: 'rationale.svg', title: 'Rationale NLL (per token)', metrics: ['nll/rationale'], eval: true, y: 'NLL' },
  { file: 'nll_loss.svg', title: 'Chosen NLL', metrics: ['nll_loss'], eval: true, y: 'NLL' },
  { file: 'learning_rate.svg', title: 'Learning rate', metrics: ['learning_rate'], y: 'learning rate', format: '.1e' },
  { file: 'grad_norm.svg', title: 'Gradient norm (before clipping)', metrics: ['grad_norm'], y: 'norm' },
  { file: 'tokens_per_sec.svg', title: 'Throughput', metrics: ['tokens_per_sec'], y: 'tokens / s' },
];

/** `grad_norm/<term>` columns (the per-term gradient norms, where the run logged them) get one chart. */
function termShareChart(rows: readonly MetricsRow[]): Chart | undefined {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => k.startsWith('grad_norm/')).sort();
  return keys.length ? { file: 'grad_norm_terms.svg', title: 'Gradient norm of each loss term', metrics: keys, eval: true, y: 'norm' } : undefined;
}

/** The chart's points: one series per metric (and per split when eval rows are drawn). */
export function chartValues(chart: Chart, rows: readonly MetricsRow[]): Array<{ step: number; series: string; value: number }> {
  const out: Array<{ step: number; series: string; value: number }> = [];
  const splits = rows.some((r) => r.eval) && chart.eval;
  for (const row of rows) {
    if (row.eval && !chart.eval) continue;
    for (const key of chart.metrics) {
      const v = row[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      // Several metrics: each by the last part of its name (logps/chosen → chosen), legends stay short.
      const name = chart.metrics.length > 1 ? key.split('/').pop()! : '';
      const split = splits ? (row.eval ? 'eval' : 'train') : '';
      out.push({ step: row.step, series: [split, name].filter(Boolean).join(' ') || key, value: v });
    }
  }
  return out;
}

const fmt = (v: unknown) =>
  typeof v === 'number'
    ? Number.isInteger(v)
      ? String(v)
      : Math.abs(v) < 1e-3 && v !== 0
        ? v.toExponential(3)
        : v.toPrecision(5)
    : Array.isArray(v)
      ? v.join(',')
      : String(v);
const table = (header: string[], rows: string[][]) =>
  [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

export interface RunReport {
  file: string;
  plots: string[];
}

/** What config.json says about the run, as far as the report reads it. */
interface RunRecord {
  config?: Record<string, unknown>;
  data?: { trainPairs?: number; evalPairs?: number };
  totalSteps?: number;
}

/** The configuration keys the report's table shows, in this order (config.json has them all). */
const SHOWN_SETTINGS = [
  'model',
  'refModel',
  'data',
  'loss',
  'beta',
  'gamma',
  'rationaleForm',
  'lr',
  'schedule',
  'warmupSteps',
  'batchSize',
  'gradAccum',
  'maxLength',
  'epochs',
  'maxSteps',
  'seed',
  'loraR',
  'dtype',
  'device',
];

export async function writeRunReport(runDir: string): Promise<RunReport> {
  const configFile = path.join(runDir, 'config.json');
  const metricsFile = path.join(runDir, 'metrics.jsonl');
  if (!existsSync(metricsFile)) throw new Error(`${runDir}: no metrics.jsonl; is it a run directory (rdpo-native train --out DIR)?`);
  const record = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as RunRecord) : {};
  const rows = readMetricsLog(metricsFile);
  const drawn = await drawCharts(rows, path.join(runDir, 'plots'));
  const file = path.join(runDir, 'report.md');
  writeFileAtomic(file, reportMarkdown(runDir, record, rows, drawn).join('\n'));
  return { file, plots: drawn.map((d) => d.file) };
}

/** Renders each chart the run logged metrics for into `plotsDir`; charts without points are left out. */
async function drawCharts(rows: readonly MetricsRow[], plotsDir: string): Promise<Array<{ chart: Chart; file: string }>> {
  mkdirSync(plotsDir, { recursive: true });
  const charts = [...CHARTS];
  const terms = termShareChart(rows);
  if (terms) charts.splice(6, 0, terms);
  const drawn: Array<{ chart: Chart; file: string }> = [];
  for (const chart of charts) {
    const values = chartValues(chart, rows);
    if (values.length === 0) continue;
    const spec = lineChartSpec({
      title: chart.title,
      values,
      x: { field: 'step', title: 'optimiser step' },
      y: { field: 'value', title: chart.y, ...(chart.format ? { format: chart.format } : {}), ...(chart.domain ? { domain: chart.domain } : {}) },
      series: { field: 'series', title: '' },
      ...(chart.rule !== undefined ? { rule: chart.rule } : {}),
    });
    const file = path.join(plotsDir, chart.file);
    writeFileAtomic(file, await renderVegaLiteSvg(spec));
    drawn.push({ chart, file });
  }
  return drawn;
}

/** report.md's lines: the run's size, its configuration, the final metrics and the curves. */
function reportMarkdown(runDir: string, record: RunRecord, rows: readonly MetricsRow[], drawn: ReadonlyArray<{ chart: Chart }>): string[] {
  const train = rows.filter((r) => !r.eval);
  const evals = rows.filter((r) => r.eval);
  const config = record.config ?? {};
  const last = train.at(-1);
  const lastEval = evals.at(-1);
  const metricKeys = [...new Set([...Object.keys(last ?? {}), ...Object.keys(lastEval ?? {})])].filter((k) => !['step', 'eval', 'skipped'].includes(k));
  return [
    `# Training run ${path.basename(path.resolve(runDir))}`,
    '',
    `${train.length} of ${record.totalSteps ?? '?'} steps logged${evals.length ? `, ${evals.length} evaluation${evals.length === 1 ? '' : 's'} on ${record.data?.evalPairs ?? '?'} held-out pairs` : ''}; ${record.data?.trainPairs ?? '?'} training pairs.`,
    '',
    '## Configuration',
    '',
    table(
      ['setting', 'value'],
      SHOWN_SETTINGS.filter((k) => config[k] !== undefined).map((k) => [k, `\`${fmt(config[k])}\``]),
    ),
    '',
    'Every setting is in `config.json`; every step in `metrics.jsonl`.',
    '',
    '## Final metrics',
    '',
    table(
      ['metric', `training (step ${last?.step ?? '–'})`, `evaluation (step ${lastEval?.step ?? '–'})`],
      metricKeys.map((k) => [k, last?.[k] !== undefined ? fmt(last[k]) : '–', lastEval?.[k] !== undefined ? fmt(lastEval[k]) : '–']),
    ),
    '',
    '## Curves',
    '',
    ...drawn.flatMap(({ chart }) => [`![${chart.title}](plots/${chart.file})`, '']),
  ];
}
