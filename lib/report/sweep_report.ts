// OUT/report.md for a data-efficiency sweep: what was run, the numbers, plots (Vega-Lite → SVG in
// OUT/plots/), and findings worded from the numbers themselves — a difference is called one only
// when it exceeds twice its standard error, and the report says when it does not.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SweepResults, SweepRow } from '../eval/sweep_results.js';
import { writeFileAtomic } from '../util/atomic_write.js';
import { lineChartSpec, renderVegaLiteSvg } from './vega_svg.js';

const METHOD_LABEL = { dpo: 'DPO', rdpo: 'RDPO', sft: 'SFT' } as const;

function pct(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined ? 'n/a' : `${(100 * v).toFixed(digits)}%`;
}

function row(method: SweepRow['method'], size: number, rows: readonly SweepRow[]): SweepRow | undefined {
  return rows.find((r) => r.method === method && r.size === size);
}

/** Sentences that follow from the numbers, with their uncertainty. */
export function sweepFindings(r: SweepResults): string[] {
  // The sizes at which both methods were trained.
  const both = r.sizes.filter((s) => row('dpo', s, r.rows) && row('rdpo', s, r.rows));
  return [
    ...winrateFindings(r, both),
    ...headToHeadFindings(r),
    ...efficiencyFindings(r),
    ...accuracyFindings(r, both),
    ...lengthFindings(r, both),
    ...judgeFindings(r),
  ];
}

/** RDPO's and DPO's winrates against SFT, size by size, and whether they differ beyond 2 s.e. */
function winrateFindings(r: SweepResults, both: readonly number[]): string[] {
  let rdpoAhead = 0;
  let clearlyAhead = 0;
  let clearlyBehind = 0;
  for (const size of both) {
    const d = row('dpo', size, r.rows)!.vsSft;
    const q = row('rdpo', size, r.rows)!.vsSft;
    if (d.winrate === null || q.winrate === null) continue;
    const diff = q.winrate - d.winrate;
    const se = Math.hypot(d.winrateStdErr, q.winrateStdErr);
    if (diff > 0) rdpoAhead++;
    if (diff > 2 * se && se > 0) clearlyAhead++;
    if (-diff > 2 * se && se > 0) clearlyBehind++;
  }
  if (both.length === 0) return [];
  return [
    `Winrate against SFT: RDPO was above DPO at ${rdpoAhead} of ${both.length} training sizes; ` +
      `the difference exceeded two standard errors in RDPO's favour at ${clearlyAhead} and in DPO's favour at ${clearlyBehind}` +
      (clearlyAhead + clearlyBehind === 0 ? ', so at this evaluation size the two are not distinguishable by this measure.' : '.'),
  ];
}

function headToHeadFindings(r: SweepResults): string[] {
  const out: string[] = [];
  for (const { size, summary: s } of r.rdpoVsDpo) {
    if (s.winrate === null) continue;
    const off = s.winrate - 0.5;
    const clear = s.winrateStdErr > 0 && Math.abs(off) > 2 * s.winrateStdErr;
    out.push(
      `Head to head at ${size} pairs, RDPO's winrate against DPO was ${pct(s.winrate)} ± ${pct(s.winrateStdErr)} ` +
        (clear ? `(${off > 0 ? 'RDPO' : 'DPO'} preferred beyond two standard errors).` : '(within two standard errors of an even split).'),
    );
  }
  return out;
}

/** Data efficiency: the smallest RDPO size that reaches DPO's best winrate. */
function efficiencyFindings(r: SweepResults): string[] {
  const dpoRows = r.rows.filter((x) => x.method === 'dpo' && x.vsSft.winrate !== null);
  const rdpoRows = r.rows.filter((x) => x.method === 'rdpo' && x.vsSft.winrate !== null).sort((a, b) => a.size - b.size);
  if (dpoRows.length === 0 || rdpoRows.length === 0) return [];
  const best = dpoRows.reduce((a, b) => (b.vsSft.winrate! > a.vsSft.winrate! ? b : a));
  const match = rdpoRows.find((x) => x.vsSft.winrate! >= best.vsSft.winrate!);
  if (match && match.size < best.size) {
    return [
      `RDPO reached DPO's best winrate against SFT (${pct(best.vsSft.winrate)} at ${best.size} pairs) with ${match.size} pairs (${pct(match.vsSft.winrate)}), ` +
        `${(best.size / match.size).toFixed(1)}× fewer; read this with the standard errors above.`,
    ];
  }
  if (match) return [`RDPO did not reach DPO's best winrate against SFT (${pct(best.vsSft.winrate)} at ${best.size} pairs) with fewer pairs than DPO needed.`];
  return [`RDPO's winrate against SFT stayed below DPO's best (${pct(best.vsSft.winrate)} at ${best.size} pairs) at every size.`];
}

function accuracyFindings(r: SweepResults, both: readonly number[]): string[] {
  const acc = (m: 'dpo' | 'rdpo', s: number) => row(m, s, r.rows)!.preference.rewardAccuracy;
  const accBoth = both.filter((s) => acc('dpo', s) !== null && acc('rdpo', s) !== null);
  if (accBoth.length === 0) return [];
  const higher = accBoth.filter((s) => acc('rdpo', s)! > acc('dpo', s)!).length;
  const equal = accBoth.filter((s) => acc('rdpo', s)! === acc('dpo', s)!).length;
  return [
    `Reward accuracy on the ${r.evalPairs} held-out pairs: RDPO higher than DPO at ${higher} of ${accBoth.length} sizes${equal ? `, equal at ${equal}` : ''}.`,
  ];
}

/** Verbosity: mean response length of each method against the other's and SFT's. */
function lengthFindings(r: SweepResults, both: readonly number[]): string[] {
  if (both.length === 0) return [];
  const chars = (m: 'dpo' | 'rdpo', s: number) => row(m, s, r.rows)!.generation.chars.mean;
  const shorter = both.filter((s) => chars('rdpo', s) < chars('dpo', s)).length;
  const mean = (m: 'dpo' | 'rdpo') => both.reduce((a, s) => a + chars(m, s), 0) / both.length;
  return [
    `Length: RDPO's responses were shorter on average than DPO's at ${shorter} of ${both.length} sizes ` +
      `(mean over sizes ${mean('rdpo').toFixed(0)} vs ${mean('dpo').toFixed(0)} characters; SFT ${r.sft.generation.chars.mean.toFixed(0)}).`,
  ];
}

/** Judge answers that could not be read, and comparisons left incomplete. */
function judgeFindings(r: SweepResults): string[] {
  const out: string[] = [];
  const summaries = [...r.rows.map((x) => x.vsSft), ...r.rdpoVsDpo.map((x) => x.summary)];
  const unparseable = summaries.reduce((a, s) => a + s.unparseable, 0);
  const judgments = summaries.reduce((a, s) => a + s.judgments, 0);
  if (unparseable > 0) out.push(`${unparseable} of ${judgments} judge answers could not be read; they count as a win for neither side.`);
  const incomplete = summaries.filter((s) => !s.complete).length;
  if (incomplete > 0) out.push(`${incomplete} comparisons are incomplete (judge requests failed); rerun the same command to finish them.`);
  return out;
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export async function writeSweepReport(r: SweepResults, outDir: string): Promise<string> {
  const charts = await drawCharts(r, join(outDir, 'plots'));
  const md: string[] = [...setupLines(r), ...resultLines(r), ...rdpoVsDpoLines(r), '## Plots', ''];
  for (const c of charts) md.push(`![${c.title}](plots/${c.file})`, '');
  md.push(
    '## Files',
    '',
    '- `results.json`: every number above; `runs/<name>/`: the trained models; `generations/<name>.jsonl`: responses;',
    '  `judge/<a>-vs-<b>/judgments.jsonl`: every judge answer; `preference/<name>/`: per-pair log-probs and rewards.',
    '',
  );
  const text = md.join('\n');
  writeFileAtomic(join(outDir, 'report.md'), text);
  return text;
}

interface SweepChart {
  file: string;
  title: string;
}

/** The charts' points: one per trained model, and SFT's length at every size. */
function chartValues(r: SweepResults) {
  const series = r.rows.map((x) => ({
    size: x.size,
    method: METHOD_LABEL[x.method],
    winrate: x.vsSft.winrate,
    accuracy: x.preference.rewardAccuracy,
    chars: x.generation.chars.mean,
  }));
  const lengthValues = [
    ...series.map((s) => ({ size: s.size, method: s.method, chars: s.chars })),
    ...r.sizes.map((size) => ({ size, method: 'SFT', chars: r.sft.generation.chars.mean })),
  ];
  return { series, lengthValues };
}

/** Renders the sweep's charts into `plots` (RDPO against DPO only when it was judged) and lists them. */
async function drawCharts(r: SweepResults, plots: string): Promise<SweepChart[]> {
  mkdirSync(plots, { recursive: true });
  const { series, lengthValues } = chartValues(r);
  const winrateAxis = { field: 'winrate', title: 'winrate', domain: [0, 1] as [number, number], format: '.0%' };
  const x = { field: 'size', title: 'training pairs' };
  const charts: Array<SweepChart & { svg: Promise<string> }> = [
    {
      file: 'winrate_vs_sft.svg',
      title: 'Winrate against SFT',
      svg: renderVegaLiteSvg(
        lineChartSpec({ title: 'Winrate against SFT (ties half)', values: series, x, y: winrateAxis, series: { field: 'method', title: 'method' }, rule: 0.5 }),
      ),
    },
    {
      file: 'reward_accuracy.svg',
      title: 'Reward accuracy',
      svg: renderVegaLiteSvg(
        lineChartSpec({
          title: `Reward accuracy on ${r.evalPairs} held-out pairs`,
          values: series,
          x,
          y: { field: 'accuracy', title: 'accuracy', domain: [0, 1], format: '.0%' },
          series: { field: 'method', title: 'method' },
          rule: 0.5,
        }),
      ),
    },
    {
      file: 'mean_length.svg',
      title: 'Mean response length',
      svg: renderVegaLiteSvg(
        lineChartSpec({
          title: 'Mean response length (characters)',
          values: lengthValues,
          x,
          y: { field: 'chars', title: 'characters' },
          series: { field: 'method', title: 'model' },
        }),
      ),
    },
  ];
  if (r.rdpoVsDpo.length > 0) {
    charts.push({
      file: 'rdpo_vs_dpo.svg',
      title: 'RDPO against DPO',
      svg: renderVegaLiteSvg(
        lineChartSpec({
          title: 'RDPO winrate against DPO (same size)',
          values: r.rdpoVsDpo.map((d) => ({ size: d.size, method: 'RDPO vs DPO', winrate: d.summary.winrate })),
          x,
          y: winrateAxis,
          series: { field: 'method', title: '' },
          rule: 0.5,
        }),
      ),
    });
  }
  for (const c of charts) writeFileAtomic(join(plots, c.file), await c.svg);
  return charts.map(({ file, title }) => ({ file, title }));
}

/** The title, what was measured and how, and the findings. */
function setupLines(r: SweepResults): string[] {
  const judgeLine =
    r.judgeKind === 'exact'
      ? `an exact checker (\`${r.judge}\`), once per prompt`
      : `\`${r.judge}\` at temperature 0 with the paper's pairwise prompt (more helpful, harmless and concise), both presentation orders × ${r.repeats} repeat(s); ties count half, unreadable answers count for neither side`;
  const trainSettings = Object.entries(r.train)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  return [
    '# Data-efficiency sweep: DPO vs RDPO',
    '',
    '## What was measured',
    '',
    `- Base model: \`${r.model}\`; data: \`${r.data}\` (${r.trainPool} training pairs available after holding out ${r.evalPairs}).`,
    `- SFT on the chosen responses of the largest subset (${r.sft.trainSize} pairs, ${r.sft.steps} steps) gives π_ref; DPO and RDPO start from it at ${r.sizes.join(', ')} pairs on nested subsets (seed ${r.seed}).`,
    `- Training settings shared by all runs: ${trainSettings || 'the trainer defaults'}.`,
    `- Reward accuracy: share of the ${r.evalPairs} held-out pairs whose implicit reward β·log π/π_ref (β = ${r.beta}) is higher for the chosen response.`,
    `- Generations on ${r.prompts.count} prompts (${r.prompts.source}); temperature ${r.sampling.temperature}, top-p ${r.sampling.topP}, at most ${r.sampling.maxNewTokens} new tokens.`,
    `- Judge: ${judgeLine}. Standard errors are over prompts.`,
    '',
    '## Findings',
    '',
    ...sweepFindings(r).map((f) => `- ${f}`),
    '',
    `The paper reports, for 7B models judged by GPT-4o on 512 prompts, RDPO's winrate against SFT rising above DPO's with training size, and shorter RDPO responses. This sweep is smaller; the findings above are what these numbers show and nothing more.`,
    '',
  ];
}

/** One table row per trained model, then SFT's own numbers. */
function resultLines(r: SweepResults): string[] {
  return [
    '## Results',
    '',
    table(
      [
        'method',
        'pairs',
        'steps',
        'winrate vs SFT (ties ½)',
        '± s.e.',
        'ties excluded',
        'W/L/T/unread',
        'reward acc.',
        'mean margin',
        'log-prob acc.',
        'mean chars',
        'mean tokens',
      ],
      r.rows.map((x) => [
        METHOD_LABEL[x.method],
        String(x.size),
        String(x.steps),
        pct(x.vsSft.winrate),
        pct(x.vsSft.winrateStdErr),
        pct(x.vsSft.winrateExcludingTies),
        `${x.vsSft.winsA}/${x.vsSft.winsB}/${x.vsSft.ties}/${x.vsSft.unparseable}`,
        pct(x.preference.rewardAccuracy),
        x.preference.meanRewardMargin === null ? 'n/a' : x.preference.meanRewardMargin.toFixed(3),
        pct(x.preference.logprobAccuracy),
        x.generation.chars.mean.toFixed(0),
        x.generation.tokens.mean.toFixed(1),
      ]),
    ),
    '',
    `SFT: log-prob accuracy ${pct(r.sft.preference.logprobAccuracy)}; mean length ${r.sft.generation.chars.mean.toFixed(0)} characters, ${r.sft.generation.tokens.mean.toFixed(1)} tokens.`,
    '',
  ];
}

/** The head-to-head table, when RDPO was judged against DPO. */
function rdpoVsDpoLines(r: SweepResults): string[] {
  if (r.rdpoVsDpo.length === 0) return [];
  return [
    '### RDPO against DPO',
    '',
    table(
      ['pairs', 'RDPO winrate (ties ½)', '± s.e.', 'ties excluded', 'W/L/T/unread', 'RDPO shown first', 'DPO shown first'],
      r.rdpoVsDpo.map(({ size, summary: s }) => [
        String(size),
        pct(s.winrate),
        pct(s.winrateStdErr),
        pct(s.winrateExcludingTies),
        `${s.winsA}/${s.winsB}/${s.ties}/${s.unparseable}`,
        r.judgeKind === 'llm' ? pct(s.byOrder.AB.winrate) : '–',
        r.judgeKind === 'llm' ? pct(s.byOrder.BA.winrate) : '–',
      ]),
    ),
    '',
  ];
}
