import test from 'ava';
import { lineChartSpec, renderVegaLiteSvg } from '../lib/report/vega_svg.js';

test('a Vega-Lite line chart renders to a standalone SVG with one point per data row', async (t) => {
  const values = [
    { size: 1000, winrate: 0.55, method: 'DPO' },
    { size: 3000, winrate: 0.57, method: 'DPO' },
    { size: 5000, winrate: 0.58, method: 'DPO' },
    { size: 1000, winrate: 0.56, method: 'RDPO' },
    { size: 3000, winrate: 0.6, method: 'RDPO' },
    { size: 5000, winrate: 0.61, method: 'RDPO' },
  ];
  const svg = await renderVegaLiteSvg(
    lineChartSpec({
      title: 'Winrate against SFT',
      values,
      x: { field: 'size', title: 'training pairs' },
      y: { field: 'winrate', title: 'winrate', domain: [0, 1], format: '.0%' },
      series: { field: 'method', title: 'method' },
      rule: 0.5,
    }),
  );
  t.true(svg.startsWith('<svg'));
  t.true(svg.trimEnd().endsWith('</svg>'));
  t.true(svg.includes('xmlns="http://www.w3.org/2000/svg"'));
  t.true(svg.includes('Winrate against SFT'));
  t.true(svg.includes('RDPO') && svg.includes('DPO'));
  // One symbol (point) per row: vega writes each as a path inside the role-mark symbol group.
  const pointGroup = /<g class="mark-symbol role-mark[^"]*"[^>]*>(.*?)<\/g>/s.exec(svg);
  t.truthy(pointGroup, 'no point marks');
  t.is((pointGroup![1]!.match(/<path /g) ?? []).length, values.length);
  // Axis labels for the training sizes and the percentage format.
  t.true(svg.includes('>1,000<') || svg.includes('>1000<'));
  t.true(svg.includes('%<'));
  // Well-formed enough for an XML parser: balanced tags.
  const open = (svg.match(/<g[ >]/g) ?? []).length;
  const close = (svg.match(/<\/g>/g) ?? []).length;
  t.is(open, close);
});
