// report.md for the built-in demo, with Vega-Lite plots rendered to SVG beside it. Every sentence
// that reads a result is computed from the numbers, whichever way they came out; without `valid` the
// report draws no conclusion at all.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lineChartSpec, renderVegaLiteSvg, type VegaLiteSpec } from '../report/vega_svg.js';
import type { DemoArm, DemoJobResult, DemoSchedule } from './demo_jobs.js';
import type { DemoContrast, DemoModelName, DemoModelSummary, DemoSummary } from './demo_summary.js';
import { DEMO_SHAPE } from './tiny_llama.js';
import { DEMO_TASK } from './arithmetic_task.js';

export interface DemoReportInput {
  summary: DemoSummary;
  results: DemoJobResult[];
  schedule: DemoSchedule;
  seconds: number;
  rationaleExample: string;
}

const LABEL: Record<DemoModelName, string> = { sft: 'SFT', dpo: 'DPO', rdpo: 'RDPO', rdpo_null: 'RDPO-null', rpo: 'RPO' };
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pts = (x: number) => `${(100 * x).toFixed(1)}`;
const range = (ci: [number, number] | null, f: (x: number) => string) => (ci ? `[${f(ci[0])}, ${f(ci[1])}]` : '');

/** How a contrast reads: shown higher/lower, or no difference shown (a degenerate interval says so). */
export function readContrast(c: DemoContrast): string {
  const [a, b] = c.name.split('-') as [DemoModelName, DemoModelName];
  const what = `${LABEL[a]} − ${LABEL[b]} at ${c.pairs} pairs, ${c.metric === 'pCorrect' ? 'P(correct)' : 'greedy accuracy'}: ${pts(c.mean)} points [${pts(c.ci95[0])}, ${pts(c.ci95[1])}]`;
  if (c.degenerate) return `${what} — no variation at all (every question, every replicate the same): not a finding either way`;
  return c.shown ? `${what} — ${LABEL[a]} ${c.mean > 0 ? 'higher' : 'lower'}` : `${what} — no difference shown`;
}

const MODEL_ORDER = ['sft', 'dpo', 'rdpo', 'rdpo_null', 'rpo'] as const;

/** What every part of the report reads: the input and the facts derived from it once. */
interface DemoView {
  r: DemoReportInput;
  s: DemoSummary;
  /** The largest pair count: the main comparison. */
  largest: number;
  /** The models this run has, in table order. */
  names: DemoModelName[];
  /** The replicate whose curves and examples are shown. */
  firstSeed: number;
}

/** The plots' paths relative to report.md. */
interface DemoPlots {
  pCorrect: string;
  length: string;
  efficiency: string;
  reward: string;
}

export async function writeDemoReport(outDir: string, r: DemoReportInput): Promise<string> {
  const s = r.summary;
  const v: DemoView = { r, s, largest: s.sizes[s.sizes.length - 1]!, names: MODEL_ORDER.filter((n) => s.models[n]), firstSeed: s.seeds[0]! };
  const plots = await drawPlots(path.join(outDir, 'plots'), v);
  const md = [...headLines(v), ...resultLines(v, plots), ...efficiencyLines(v, plots), ...exampleLines(v), ...closingLines()].join('\n');
  const file = path.join(outDir, 'report.md');
  writeFileSync(file, md);
  return file;
}

const modelOf = (v: DemoView, n: DemoModelName) => v.s.models[n] as DemoModelSummary;

async function drawPlots(dir: string, v: DemoView): Promise<DemoPlots> {
  mkdirSync(dir, { recursive: true });
  const svg = async (name: string, spec: VegaLiteSpec) => {
    writeFileSync(path.join(dir, name), await renderVegaLiteSvg(spec));
    return `plots/${name}`;
  };
  const pCorrect = await svg(
    'p_correct.svg',
    barSpec(
      v,
      `P(correct answer), test questions, ${v.largest} pairs (95% interval)`,
      (m) => m.pCorrect,
      (m) => m.pCorrectCi95,
      'P(correct)',
      '.0%',
    ),
  );
  const length = await svg(
    'length.svg',
    barSpec(
      v,
      'Greedy answer length (95% interval)',
      (m) => m.length,
      (m) => m.lengthCi95,
      'characters',
    ),
  );
  const efficiency = await svg('efficiency.svg', efficiencySpec(v.s));
  const reward = await svg(
    'reward_accuracy.svg',
    lineChartSpec({
      title: `Training reward accuracy (replicate ${v.firstSeed}, ${v.largest} pairs)`,
      values: rewardCurveRows(v),
      x: { field: 'step', title: 'optimiser step' },
      y: { field: 'value', title: 'rewards/accuracies', domain: [0, 1] },
      series: { field: 'run', title: 'run' },
    }),
  );
  return { pCorrect, length, efficiency, reward };
}

/** One bar per model with its 95% interval as an error bar. */
function barSpec(
  v: DemoView,
  title: string,
  value: (m: DemoModelSummary) => number,
  ci: (m: DemoModelSummary) => [number, number],
  yTitle: string,
  format?: string,
): VegaLiteSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 300,
    height: 220,
    data: { values: v.names.map((n) => ({ model: LABEL[n], value: value(modelOf(v, n)), lo: ci(modelOf(v, n))[0], hi: ci(modelOf(v, n))[1] })) },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x: { field: 'model', type: 'nominal', sort: null },
          y: { field: 'value', type: 'quantitative', title: yTitle, ...(format ? { axis: { format } } : {}) },
          color: { field: 'model', type: 'nominal', legend: null },
        },
      },
      {
        mark: { type: 'errorbar', ticks: true },
        encoding: { x: { field: 'model', type: 'nominal', sort: null }, y: { field: 'lo', type: 'quantitative', title: yTitle }, y2: { field: 'hi' } },
      },
    ],
  } as VegaLiteSpec;
}

/** P(correct) against pair count per arm, with SFT as a dashed rule. */
function efficiencySpec(s: DemoSummary): VegaLiteSpec {
  const effValues = s.efficiency.map((e) => ({ pairs: e.pairs, value: e.pCorrect, lo: e.pCorrectCi95[0], hi: e.pCorrectCi95[1], arm: LABEL[e.loss] }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Data efficiency: P(correct) on the test questions against preference pairs',
    width: 420,
    height: 260,
    data: { values: effValues },
    layer: [
      {
        data: { values: [{ ref: s.models.sft.pCorrect }] },
        mark: { type: 'rule', strokeDash: [4, 4], color: '#888' },
        encoding: { y: { field: 'ref', type: 'quantitative' } },
      },
      {
        mark: { type: 'line', point: { filled: true, size: 60 } },
        encoding: {
          x: { field: 'pairs', type: 'quantitative', title: 'preference pairs' },
          y: { field: 'value', type: 'quantitative', title: 'P(correct) (dashed: SFT)', axis: { format: '.0%' } },
          color: { field: 'arm', type: 'nominal', title: 'arm' },
        },
      },
      {
        mark: { type: 'errorbar', ticks: true },
        encoding: {
          x: { field: 'pairs', type: 'quantitative' },
          y: { field: 'lo', type: 'quantitative', title: 'P(correct) (dashed: SFT)' },
          y2: { field: 'hi' },
          color: { field: 'arm', type: 'nominal' },
        },
      },
    ],
  } as VegaLiteSpec;
}

/** Training reward accuracy of each preference run of the first replicate at the largest size. */
function rewardCurveRows(v: DemoView): Array<{ step: number; value: number; run: string }> {
  return v.r.results
    .filter((x) => x.kind === 'pref' && x.pairs === v.largest && x.seed === v.firstSeed)
    .flatMap((x) =>
      x.metrics
        .filter((m) => !m.eval && typeof m['rewards/accuracies'] === 'number')
        .map((m) => ({ step: m.step, value: m['rewards/accuracies'] as number, run: LABEL[x.arm] })),
    );
}

/** Each term's share of the first update (grad_norm/preference, grad_norm/rationale in metrics.jsonl). */
function termShareLines(v: DemoView): string[] {
  return (['rdpo', 'rdpo_null'] as DemoArm[]).flatMap((arm) => {
    const rows = v.r.results
      .filter((x) => x.arm === arm && x.pairs === v.largest)
      .map((x) => x.metrics.find((m) => typeof m['grad_norm/rationale'] === 'number'));
    const pref = rows.map((m) => m?.['grad_norm/preference'] as number).filter(Number.isFinite);
    const rat = rows.map((m) => m?.['grad_norm/rationale'] as number).filter(Number.isFinite);
    if (pref.length === 0) return [];
    const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
    return [
      `- ${LABEL[arm]}, first step: gradient norm of the preference term ${mean(pref).toFixed(3)}, of the rationale term ${mean(rat).toFixed(3)} (means over replicates).`,
    ];
  });
}

/** Whether the run can be read: DPO must have moved the model above SFT at the largest size. */
function verdictLine(v: DemoView): string {
  const { s, largest } = v;
  return s.valid
    ? `**valid**: DPO at ${largest} pairs moved the model above SFT (${readContrast(s.contrasts.find((c) => c.name === 'dpo-sft' && c.pairs === largest && c.metric === s.primaryMetric)!)}), so the contrasts below can be read.`
    : `**No conclusion.** The preference stage did not measurably move the model (${readContrast(s.contrasts.find((c) => c.name === 'dpo-sft' && c.pairs === largest && c.metric === s.primaryMetric)!)}): this run cannot say anything about rationales, and the demo has failed as an instrument.`;
}

/** The title, the verdict and the set-up of the run. */
function headLines(v: DemoView): string[] {
  const { r, s, largest } = v;
  const { schedule } = r;
  return [
    '# rdpo-native built-in demo',
    '',
    `Does a rationale's *content* help preference learning learn the true criterion from fewer pairs, and ignore a spurious cue? This run tested it on a small, controlled task (design, hypotheses, power and every change after results: docs/demo.md in the repository). It took ${(r.seconds / 60).toFixed(1)} minutes on this machine.`,
    '',
    verdictLine(v),
    '',
    `- A ${DEMO_SHAPE.layers}-layer Llama (hidden ${DEMO_SHAPE.hiddenSize}, byte-level tokenizer) made from scratch per replicate, fine-tuned on ${schedule.sftSteps * schedule.batchSize} careless demonstrations of "What is a + b?" (a, b in 0–${DEMO_TASK.maxOperand}; ${Math.round(100 * DEMO_TASK.sftCorrect)}% correct, the rest ${DEMO_TASK.slips.length === 1 && DEMO_TASK.slips[0] === 1 ? 'one too many (the sum + 1)' : `off by ${DEMO_TASK.slips.join(', ')}`}; half with a filler sentence): the **SFT** model and the reference.`,
    `- The 100 questions are split once: pairs use only the 40 train questions; every number below is on the ${s.testQuestions} test questions, which no pair ever contains.`,
    `- From SFT, on the same pairs: **DPO**; **RDPO** as released (−log σ(γ·Σ log π(r|…)), γ ${schedule.gamma}); **RDPO-null** (the same loss, each rationale replaced by " the the …" of its length); **RPO** (DPO + ${schedule.rpoWeight} × chosen NLL, at ${largest} pairs). ${schedule.preferenceEpochs} epochs, β ${schedule.beta}, learning rates from the pilot: ${Object.entries(
      s.lr,
    )
      .map(([a, x]) => `${LABEL[a as DemoArm]} ${x}`)
      .join(', ')}. A rationale counts on to the sum, which the pair never shows:`,
    '',
    `  > ${r.rationaleExample}`,
    '',
    `- Metrics are deterministic: **P(correct)** (primary: the model's probability of the correct answer), greedy accuracy by the exact checker, greedy answer length, and the cue-reversed test (correct and plain vs wrong with filler, by implicit reward against SFT).`,
    `- ${s.replicates} replicates (seeds ${s.seeds.join(', ')}); 95% intervals from a crossed bootstrap over replicates × test questions; contrasts are paired by question and replicate.`,
    '',
  ];
}

/** One model's row of the results table. */
function modelRow(v: DemoView, n: DemoModelName): string {
  const m = modelOf(v, n);
  return `| ${LABEL[n]} | ${pct(m.pCorrect)} ${range(m.pCorrectCi95, pct)} | ${m.pCorrectPerReplicate.map(pct).join(', ')} | ${pct(m.accuracy)} ${range(m.ci95, pct)} | ${m.length.toFixed(1)} ${range(m.lengthCi95, (x) => x.toFixed(1))} | ${pct(m.fillerRate)} | ${m.cueReversedAccuracy === null ? 'n/a' : `${pct(m.cueReversedAccuracy)} ${range(m.cueReversedCi95, pct)}`} |`;
}

/** The results table at the largest size, its plots, the contrasts and the term shares. */
function resultLines(v: DemoView, plots: DemoPlots): string[] {
  const { s } = v;
  const byMetric = (metric: DemoContrast['metric']) => s.contrasts.filter((c) => c.metric === metric);
  const shares = termShareLines(v);
  return [
    `## Results at ${v.largest} pairs`,
    '',
    '| model | P(correct) (95% interval) | per replicate | greedy accuracy | length, chars | answers with filler | cue-reversed accuracy |',
    '|---|---|---|---|---|---|---|',
    ...v.names.map((n) => modelRow(v, n)),
    '',
    `![P(correct)](${plots.pCorrect}) ![length](${plots.length})`,
    '',
    '## Contrasts (paired; points of P(correct), then of greedy accuracy)',
    '',
    ...(s.valid ? [] : ['_Not to be read: the run is not valid (above)._', '']),
    ...byMetric('pCorrect').map((c) => `- ${readContrast(c)}`),
    '',
    ...byMetric('accuracy').map((c) => `- ${readContrast(c)}`),
    '',
    ...(shares.length ? ["Each term's share of the update:", '', ...shares, ''] : []),
  ];
}

/** P(correct) per arm at every pair count, and the efficiency and reward plots. */
function efficiencyLines(v: DemoView, plots: DemoPlots): string[] {
  const { s } = v;
  const arms = s.efficiency.filter((e, i, all) => all.findIndex((x) => x.loss === e.loss) === i);
  return [
    '## Data efficiency',
    '',
    `| pairs | ${arms.map((e) => `${LABEL[e.loss]} P(correct)`).join(' | ')} |`,
    `|---|${arms.map(() => '---').join('|')}|`,
    ...s.sizes.map(
      (n) =>
        `| ${n} | ${s.efficiency
          .filter((e) => e.pairs === n)
          .map((e) => `${pct(e.pCorrect)} ${range(e.pCorrectCi95, pct)}`)
          .join(' | ')} |`,
    ),
    '',
    `![efficiency](${plots.efficiency}) ![reward accuracy](${plots.reward})`,
    '',
  ];
}

/** The first replicate's greedy answers to the example questions, one column per model. */
function exampleLines(v: DemoView): string[] {
  const { names, firstSeed, largest } = v;
  const examples = v.r.results.filter((x) => x.seed === firstSeed && (x.kind === 'sft' || x.pairs === largest));
  const exampleOf = (arm: DemoModelName) => examples.find((x) => x.arm === arm)?.examples ?? [];
  return [
    `## Examples (replicate ${firstSeed}, greedy)`,
    '',
    `| question | ${names.map((n) => LABEL[n]).join(' | ')} |`,
    `|---|${names.map(() => '---').join('|')}|`,
    ...exampleOf('sft').map(
      (e, i) => `| ${e.question} (= ${e.answer}) | ${names.map((n) => (exampleOf(n)[i]?.response ?? '').replace(/\|/g, '\\|')).join(' | ')} |`,
    ),
    '',
  ];
}

function closingLines(): string[] {
  return [
    '## What this does and does not show',
    '',
    "- A tiny model on a synthetic task: a controlled check of the mechanism, not a replication of the paper's 7B results.",
    '- "No difference shown" means the 95% interval of the paired difference includes zero.',
    `- Every number is computed by this run; the files behind it are here (\`seed-*/*/result.json\`, \`seed-*/*/run/metrics.jsonl\`, \`summary.json\`).`,
    '',
  ];
}
