// Vega-Lite charts rendered to SVG on the server: no browser, no canvas (renderer 'none' with
// vega's built-in text-width estimate), so a report's plots are plain files beside report.md.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type { TopLevelSpec as VegaLiteSpec } from 'vega-lite';

export async function renderVegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const { spec: vegaSpec } = compile(spec);
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface LineChartOptions {
  title: string;
  /** Rows with x, y, series fields. */
  values: ReadonlyArray<Record<string, string | number | null>>;
  x: { field: string; title: string; scaleZero?: boolean };
  y: { field: string; title: string; domain?: [number, number]; format?: string };
  series: { field: string; title: string };
  /** A horizontal reference line (e.g. 0.5 for a winrate). */
  rule?: number;
  width?: number;
  height?: number;
}

/** One line per series with points; x is quantitative (training sizes). */
export function lineChartSpec(o: LineChartOptions): TopLevelSpec {
  const line = {
    mark: { type: 'line', point: { filled: true, size: 60 } },
    encoding: {
      x: { field: o.x.field, type: 'quantitative', title: o.x.title, scale: { zero: o.x.scaleZero ?? false } },
      y: {
        field: o.y.field,
        type: 'quantitative',
        title: o.y.title,
        ...(o.y.domain ? { scale: { domain: o.y.domain } } : {}),
        ...(o.y.format ? { axis: { format: o.y.format } } : {}),
      },
      color: { field: o.series.field, type: 'nominal', title: o.series.title },
      tooltip: [
        { field: o.series.field, type: 'nominal' },
        { field: o.x.field, type: 'quantitative' },
        { field: o.y.field, type: 'quantitative', ...(o.y.format ? { format: o.y.format } : {}) },
      ],
    },
  };
  const layers: unknown[] = [line];
  if (o.rule !== undefined) {
    layers.unshift({
      data: { values: [{ ref: o.rule }] },
      mark: { type: 'rule', strokeDash: [4, 4], color: '#888' },
      encoding: { y: { field: 'ref', type: 'quantitative' } },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: o.title,
    width: o.width ?? 420,
    height: o.height ?? 260,
    data: { values: o.values.map((v) => ({ ...v })) },
    layer: layers,
  } as TopLevelSpec;
}
