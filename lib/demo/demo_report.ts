// report.md for the built-in demo, with Vega-Lite plots rendered to SVG beside it. Every sentence
// that reads a result is computed from the numbers, whichever way they came out.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lineChartSpec, renderVegaLiteSvg, type VegaLiteSpec } from '../report/vega_svg.js';
import type { DemoJobResult, DemoSchedule } from './demo_jobs.js';
import { meanInterval, type DemoSummary, type MeanInterval } from './demo_summary.js';
import { DEMO_SHAPE } from './tiny_llama.js';
import { DEMO_TASK } from './arithmetic_task.js';

export interface DemoReportInput {
  summary: DemoSummary;
  results: DemoJobResult[];
  schedule: DemoSchedule;
  seconds: number;
  rationaleExample: string;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const interval = (ci: [number, number] | null, f: (x: number) => string) => (ci ? `[${f(ci[0])}, ${f(ci[1])}]` : '(one seed)');

/** Paired by seed: b − a per seed, its mean and 95% interval, and how to read it. */
function pairedDifference(a: readonly number[], b: readonly number[]): MeanInterval & { reading: 'higher' | 'lower' | 'no difference shown' } {
  const d = meanInterval(b.map((v, i) => v - a[i]!));
  const reading = d.ci95 === null ? 'no difference shown' : d.ci95[0] > 0 ? 'higher' : d.ci95[1] < 0 ? 'lower' : 'no difference shown';
  return { ...d, reading };
}

function describe(diff: ReturnType<typeof pairedDifference>, what: string, f: (x: number) => string): string {
  const ci = diff.ci95 ? `, 95% interval [${f(diff.ci95[0])}, ${f(diff.ci95[1])}]` : '';
  return diff.reading === 'no difference shown'
    ? `${what}: no difference shown (mean difference ${f(diff.mean)}${ci}).`
    : `${what}: ${diff.reading} (mean difference ${f(diff.mean)}${ci}).`;
}

export async function writeDemoReport(outDir: string, r: DemoReportInput): Promise<string> {
  const plots = path.join(outDir, 'plots');
  mkdirSync(plots, { recursive: true });
  const svg = async (name: string, spec: VegaLiteSpec) => {
    writeFileSync(path.join(plots, name), await renderVegaLiteSvg(spec));
    return `plots/${name}`;
  };
  const { summary: s, schedule } = r;
  const models = [
    ['SFT', s.models.sft],
    ['DPO', s.models.dpo],
    ['RDPO', s.models.rdpo],
  ] as const;
  const bars = (title: string, field: 'accuracy' | 'length', yTitle: string, format?: string): VegaLiteSpec =>
    ({
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title,
      width: 260,
      height: 220,
      data: {
        values: models.map(([name, m]) => {
          const ci = field === 'accuracy' ? m.ci95 : m.lengthCi95;
          const v = field === 'accuracy' ? m.accuracy : m.length;
          return { model: name, value: v, lo: ci ? ci[0] : v, hi: ci ? ci[1] : v };
        }),
      },
      layer: [
        { mark: 'bar', encoding: { x: { field: 'model', type: 'nominal', sort: null }, y: { field: 'value', type: 'quantitative', title: yTitle, ...(format ? { axis: { format } } : {}) }, color: { field: 'model', type: 'nominal', legend: null } } },
        { mark: { type: 'errorbar', ticks: true }, encoding: { x: { field: 'model', type: 'nominal', sort: null }, y: { field: 'lo', type: 'quantitative', title: yTitle }, y2: { field: 'hi' } } },
      ],
    }) as VegaLiteSpec;
  const accuracyPlot = await svg('accuracy.svg', bars(`Held-out accuracy, mean of ${s.seeds.length} seeds (95% interval)`, 'accuracy', 'accuracy', '.0%'));
  const lengthPlot = await svg('length.svg', bars('Mean answer length (95% interval)', 'length', 'characters'));
  const efficiencyValues = s.efficiency.map((e) => ({ pairs: e.pairs, accuracy: e.accuracy, lo: e.ci95 ? e.ci95[0] : e.accuracy, hi: e.ci95 ? e.ci95[1] : e.accuracy, loss: e.loss.toUpperCase() }));
  const efficiencyPlot = await svg('efficiency.svg', {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Data efficiency: held-out accuracy against preference pairs',
    width: 420,
    height: 260,
    data: { values: efficiencyValues },
    layer: [
      { data: { values: [{ ref: s.models.sft.accuracy }] }, mark: { type: 'rule', strokeDash: [4, 4], color: '#888' }, encoding: { y: { field: 'ref', type: 'quantitative' } } },
      { mark: { type: 'line', point: { filled: true, size: 60 } }, encoding: { x: { field: 'pairs', type: 'quantitative', title: 'preference pairs' }, y: { field: 'accuracy', type: 'quantitative', title: 'accuracy (dashed: SFT)', axis: { format: '.0%' } }, color: { field: 'loss', type: 'nominal', title: 'loss' } } },
      { mark: { type: 'errorbar', ticks: true }, encoding: { x: { field: 'pairs', type: 'quantitative' }, y: { field: 'lo', type: 'quantitative', title: 'accuracy (dashed: SFT)' }, y2: { field: 'hi' }, color: { field: 'loss', type: 'nominal' } } },
    ],
  } as VegaLiteSpec);
  const largest = s.sizes[s.sizes.length - 1]!;
  const firstSeed = s.seeds[0]!;
  const curveRows = r.results
    .filter((x) => x.kind !== 'sft' && x.pairs === largest && x.seed === firstSeed)
    .flatMap((x) => x.metrics.filter((m) => !m.eval && typeof m['rewards/accuracies'] === 'number').map((m) => ({ step: m.step, value: m['rewards/accuracies'] as number, run: x.kind.toUpperCase() })));
  const rewardPlot = await svg(
    'reward_accuracy.svg',
    lineChartSpec({ title: `Training reward accuracy (seed ${firstSeed}, ${largest} pairs)`, values: curveRows, x: { field: 'step', title: 'optimiser step' }, y: { field: 'value', title: 'rewards/accuracies', domain: [0, 1] }, series: { field: 'run', title: 'run' } }),
  );

  const sft = s.models.sft;
  const dpo = s.models.dpo;
  const rdpo = s.models.rdpo;
  const pctPoints = (x: number) => `${(100 * x).toFixed(1)} pts`;
  const chars = (x: number) => `${x.toFixed(1)} chars`;
  const vsSft = (m: typeof dpo, name: string) => describe(pairedDifference(sft.accuracyPerSeed, m.accuracyPerSeed), `${name} accuracy vs SFT`, pctPoints);
  const bySize = (loss: 'dpo' | 'rdpo', pairs: number) => s.efficiency.find((e) => e.loss === loss && e.pairs === pairs)!;
  const efficiencyLines = s.sizes.map((n) => describe(pairedDifference(bySize('dpo', n).accuracyPerSeed, bySize('rdpo', n).accuracyPerSeed), `RDPO vs DPO accuracy at ${n} pairs`, pctPoints));
  const lengthLine = describe(pairedDifference(dpo.lengthPerSeed, rdpo.lengthPerSeed), `RDPO vs DPO answer length at ${largest} pairs`, chars);
  const cueLine =
    dpo.cueReversedAccuracy && rdpo.cueReversedAccuracy
      ? describe(pairedDifference(dpo.cueReversedAccuracy.perSeed, rdpo.cueReversedAccuracy.perSeed), `RDPO vs DPO cue-reversed accuracy at ${largest} pairs`, pctPoints)
      : '';
  const row = (name: string, m: typeof sft) =>
    `| ${name} | ${pct(m.accuracy)} ${interval(m.ci95, pct)} | ${m.accuracyPerSeed.map(pct).join(', ')} | ${m.length.toFixed(1)} ${interval(m.lengthCi95, (x) => x.toFixed(1))} | ${m.lengthTokens.toFixed(1)} | ${pct(m.fillerRate)} | ${m.cueReversedAccuracy ? `${pct(m.cueReversedAccuracy.mean)} ${interval(m.cueReversedAccuracy.ci95, pct)}` : 'n/a'} |`;
  const examples = r.results.filter((x) => x.seed === firstSeed && (x.kind === 'sft' || x.pairs === largest));
  const exampleOf = (kind: string) => examples.find((x) => x.kind === kind)?.examples ?? [];
  const md = [
    '# rdpo-native built-in demo',
    '',
    `Does a rationale help preference learning ignore a spurious cue and learn from fewer pairs? This run tested it on a small, controlled task (design, hypotheses and sizes: docs/demo.md in the repository, written before results were seen). It took ${(r.seconds / 60).toFixed(1)} minutes on this machine.`,
    '',
    `- A ${DEMO_SHAPE.layers}-layer Llama (hidden ${DEMO_SHAPE.hiddenSize}, byte-level tokenizer) made from scratch per seed, fine-tuned on ${schedule.sftSteps * schedule.batchSize} careless demonstrations of "What is a + b?" (a, b in 0–${DEMO_TASK.maxOperand}; 60% correct, the rest slips; half with a filler sentence): the **SFT** model and the reference.`,
    `- **DPO** and **RDPO** from it on the same pairs (${s.sizes.join(', ')} pairs, ${schedule.preferenceEpochs} epochs, β ${schedule.beta}, lr ${schedule.preferenceLr}; RDPO adds γ = ${schedule.gamma} × the rationale's per-token NLL). Chosen answers are correct, rejected ones are slips; 80% of chosen and 20% of rejected answers carry a filler sentence, so "longer is better" fits most pairs. Each pair's rationale names the true criterion, e.g.:`,
    '',
    `  > ${r.rationaleExample}`,
    '',
    `- Every model answered ${s.evalQuestions} held-out questions, sampled as in the paper (temperature 1, top-p 0.95), judged by the exact checker; and scored ${s.evalQuestions} cue-reversed pairs (correct and plain vs wrong with filler) by its implicit reward against the SFT reference.`,
    `- Seeds ${s.seeds.join(', ')}; means with 95% t-intervals over seeds; differences are paired by seed.`,
    '',
    `## Results at ${largest} pairs`,
    '',
    '| model | accuracy (95% interval) | per seed | length, chars (95% interval) | length, tokens | answers with filler | cue-reversed accuracy |',
    '|---|---|---|---|---|---|---|',
    row('SFT', sft),
    row('DPO', dpo),
    row('RDPO', rdpo),
    '',
    `- ${vsSft(dpo, 'DPO')}`,
    `- ${vsSft(rdpo, 'RDPO')}`,
    `- ${lengthLine}`,
    ...(cueLine ? [`- ${cueLine}`] : []),
    '',
    `![accuracy](${accuracyPlot}) ![length](${lengthPlot})`,
    '',
    '## Data efficiency',
    '',
    '| pairs | DPO accuracy | RDPO accuracy |',
    '|---|---|---|',
    ...s.sizes.map((n) => `| ${n} | ${pct(bySize('dpo', n).accuracy)} ${interval(bySize('dpo', n).ci95, pct)} | ${pct(bySize('rdpo', n).accuracy)} ${interval(bySize('rdpo', n).ci95, pct)} |`),
    '',
    ...efficiencyLines.map((l) => `- ${l}`),
    '',
    `![efficiency](${efficiencyPlot}) ![reward accuracy](${rewardPlot})`,
    '',
    `## Examples (seed ${firstSeed}, sampled)`,
    '',
    '| question | SFT | DPO | RDPO |',
    '|---|---|---|---|',
    ...exampleOf('sft').map((e, i) => {
      const cell = (kind: string) => (exampleOf(kind)[i]?.response ?? '').replace(/\|/g, '\\|');
      return `| ${e.question} (= ${e.answer}) | ${cell('sft')} | ${cell('dpo')} | ${cell('rdpo')} |`;
    }),
    '',
    '## What this does and does not show',
    '',
    '- A tiny model on a synthetic task, a few seeds: a controlled check of the mechanism, not a replication of the paper\'s 7B results.',
    `- Held-out questions come from the same operand range (0–${DEMO_TASK.maxOperand}), so their sums were seen in training: the test is which answer the model prefers and how long it answers, not generalisation to new sums. The cue-reversed pairs are the direct test of which criterion was learned.`,
    '- "No difference shown" means the 95% interval of the paired difference includes zero; with 3 seeds only large effects can show.',
    `- Every number is computed by this run; the files behind it are here (\`seed-*/*/result.json\`, \`seed-*/*/run/metrics.jsonl\`, \`summary.json\`).`,
    '',
  ].join('\n');
  const file = path.join(outDir, 'report.md');
  writeFileSync(file, md);
  return file;
}
