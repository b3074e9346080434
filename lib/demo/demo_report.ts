// report.md for the built-in demo, with Vega-Lite plots rendered to SVG beside it.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lineChartSpec, renderVegaLiteSvg, type VegaLiteSpec } from '../report/vega_svg.js';
import type { MetricsRow } from '../train/metrics.js';

export interface DemoModelResult {
  name: string;
  accuracy: number;
  meanChars: number;
  meanTokens: number;
  metrics: MetricsRow[];
}

export interface DemoComparison {
  a: string;
  b: string;
  wins: number;
  losses: number;
  ties: number;
  winrate: number;
}

export interface DemoReportInput {
  parameters: number;
  pairs: number;
  evalQuestions: number;
  models: DemoModelResult[];
  comparisons: DemoComparison[];
  seconds: number;
  examples: Array<{ question: string; answer: number; sft: string; dpo: string; rdpo: string }>;
  rationaleExample: string;
}

function barSpec(title: string, values: Array<{ model: string; value: number }>, yTitle: string, format?: string): VegaLiteSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 300,
    height: 220,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'model', type: 'nominal', title: 'model', sort: null },
      y: { field: 'value', type: 'quantitative', title: yTitle, ...(format ? { axis: { format } } : {}) },
      color: { field: 'model', type: 'nominal', legend: null },
    },
  } as VegaLiteSpec;
}

/** A binomial 95% interval half-width, to say whether a difference is more than noise. */
function ci95(p: number, n: number): number {
  return 1.96 * Math.sqrt((p * (1 - p)) / Math.max(1, n));
}

export async function writeDemoReport(outDir: string, r: DemoReportInput): Promise<string> {
  const plots = path.join(outDir, 'plots');
  mkdirSync(plots, { recursive: true });
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const svg = async (name: string, spec: VegaLiteSpec) => {
    writeFileSync(path.join(plots, name), await renderVegaLiteSvg(spec));
    return `plots/${name}`;
  };
  const accuracyPlot = await svg('accuracy.svg', barSpec('Held-out accuracy (exact checker)', r.models.map((m) => ({ model: m.name.toUpperCase(), value: m.accuracy })), 'accuracy', '.0%'));
  const lengthPlot = await svg('length.svg', barSpec('Mean answer length', r.models.map((m) => ({ model: m.name.toUpperCase(), value: m.meanChars })), 'characters'));
  const curve = (field: string) =>
    r.models
      .filter((m) => m.name !== 'sft')
      .flatMap((m) => m.metrics.filter((row) => !row.eval && typeof row[field] === 'number').map((row) => ({ step: row.step, value: row[field] as number, run: m.name.toUpperCase() })));
  const rewardPlot = await svg(
    'reward_accuracy.svg',
    lineChartSpec({ title: 'Training reward accuracy', values: curve('rewards/accuracies'), x: { field: 'step', title: 'optimiser step' }, y: { field: 'value', title: 'rewards/accuracies', domain: [0, 1] }, series: { field: 'run', title: 'run' } }),
  );
  const marginPlot = await svg(
    'reward_margin.svg',
    lineChartSpec({ title: 'Training reward margin', values: curve('rewards/margins'), x: { field: 'step', title: 'optimiser step' }, y: { field: 'value', title: 'rewards/margins' }, series: { field: 'run', title: 'run' } }),
  );

  const byName = Object.fromEntries(r.models.map((m) => [m.name, m]));
  const dpo = byName.dpo!;
  const rdpo = byName.rdpo!;
  const sft = byName.sft!;
  const n = r.evalQuestions;
  const diff = rdpo.accuracy - dpo.accuracy;
  const noise = ci95((rdpo.accuracy + dpo.accuracy) / 2, n) * Math.SQRT2;
  const verdict =
    Math.abs(diff) <= noise
      ? `RDPO and DPO are within noise of each other on accuracy (${pct(rdpo.accuracy)} vs ${pct(dpo.accuracy)}, difference ${pct(diff)}, ±${pct(noise)} at 95%).`
      : diff > 0
        ? `RDPO answered more questions correctly than DPO: ${pct(rdpo.accuracy)} vs ${pct(dpo.accuracy)} (difference ${pct(diff)}, beyond the ±${pct(noise)} 95% noise band).`
        : `DPO answered more questions correctly than RDPO here: ${pct(dpo.accuracy)} vs ${pct(rdpo.accuracy)} (difference ${pct(-diff)}, beyond the ±${pct(noise)} 95% noise band). The rationales did not help on this run.`;
  const lengthNote =
    rdpo.meanChars < dpo.meanChars
      ? `RDPO's answers are shorter than DPO's (${rdpo.meanChars.toFixed(1)} vs ${dpo.meanChars.toFixed(1)} characters), in the direction of the paper's verbosity finding.`
      : `RDPO's answers are not shorter than DPO's here (${rdpo.meanChars.toFixed(1)} vs ${dpo.meanChars.toFixed(1)} characters).`;
  const md = [
    '# rdpo-native built-in demo',
    '',
    `A ${(r.parameters / 1e6).toFixed(2)}M-parameter Llama made from scratch (byte-level tokenizer) was trained offline on this machine in ${(r.seconds / 60).toFixed(1)} minutes:`,
    `SFT on the chosen answers of ${r.pairs} addition pairs, then DPO and RDPO from that SFT model on the same pairs (the SFT model is the reference;`,
    'β 0.1, lr 5e-5, 150 steps of 16 pairs each; RDPO adds γ = 2 times the rationale\'s per-token NLL).',
    'Chosen answers are correct; rejected ones are off by a little. Most chosen answers also carry a filler sentence — a spurious length cue.',
    'Each pair has a rationale that states the property that matters, e.g.:',
    '',
    `> ${r.rationaleExample}`,
    '',
    `All three models then answered the same ${n} held-out questions greedily; the task's exact checker is the judge.`,
    '',
    '## Results',
    '',
    '| model | accuracy | mean length (chars) | mean length (tokens) |',
    '|---|---|---|---|',
    ...r.models.map((m) => `| ${m.name.toUpperCase()} | ${pct(m.accuracy)} | ${m.meanChars.toFixed(1)} | ${m.meanTokens.toFixed(1)} |`),
    '',
    '| comparison | wins | losses | ties | winrate (ties = ½) |',
    '|---|---|---|---|---|',
    ...r.comparisons.map((c) => `| ${c.a.toUpperCase()} vs ${c.b.toUpperCase()} | ${c.wins} | ${c.losses} | ${c.ties} | ${pct(c.winrate)} |`),
    '',
    `- ${verdict}`,
    `- ${lengthNote}`,
    `- SFT alone: ${pct(sft.accuracy)}.`,
    '',
    `![accuracy](${accuracyPlot}) ![length](${lengthPlot})`,
    '',
    `![reward accuracy](${rewardPlot}) ![reward margin](${marginPlot})`,
    '',
    '## Examples',
    '',
    '| question | SFT | DPO | RDPO |',
    '|---|---|---|---|',
    ...r.examples.map((e) => `| ${e.question} (=${e.answer}) | ${e.sft.replace(/\|/g, '\\|')} | ${e.dpo.replace(/\|/g, '\\|')} | ${e.rdpo.replace(/\|/g, '\\|')} |`),
    '',
    '## What this does and does not show',
    '',
    '- One seed, one small model, one synthetic task: a demonstration of the pipeline, not a replication of the paper.',
    '- The held-out questions come from the same distribution as the training pairs (operands 0–19), so many were seen in training.',
    '- Every number above is computed by this run; the files behind it are in this directory (`runs/*/metrics.jsonl`, `answers.jsonl`).',
    '',
  ].join('\n');
  const file = path.join(outDir, 'report.md');
  writeFileSync(file, md);
  return file;
}
