// `reportTo` (TRL's `report_to`): where a run's metrics go besides metrics.jsonl. `none` (the default)
// or `tensorboard` today; a new backend is one more name here and one more sink in `openTrackers`.
import path from 'node:path';
import type { MetricsSink } from './metrics.js';
import { TensorBoardWriter } from './tensorboard_writer.js';

export const REPORT_TO = ['none', 'tensorboard'] as const;
export type ReportBackend = (typeof REPORT_TO)[number];

/** `reportTo` as the config holds it (one name or a list) → the backends, without `none`. */
export function reportBackends(reportTo: ReportBackend | readonly ReportBackend[] | undefined): ReportBackend[] {
  const list = reportTo === undefined ? [] : typeof reportTo === 'string' ? [reportTo] : [...reportTo];
  return [...new Set(list.filter((b) => b !== 'none'))];
}

/** The event files' directory of a run (`tensorboard --logdir RUN_DIR` finds it). */
export const tensorboardDir = (runDir: string) => path.join(runDir, 'tensorboard');

export function openTrackers(
  reportTo: ReportBackend | readonly ReportBackend[] | undefined,
  runDir: string,
  startStep: number,
  log: (message: string) => void = () => {},
): MetricsSink[] {
  const sinks: MetricsSink[] = [];
  for (const backend of reportBackends(reportTo)) {
    if (backend === 'tensorboard') {
      const writer = new TensorBoardWriter(tensorboardDir(runDir), startStep);
      log(`tensorboard: writing ${writer.file} (view with \`tensorboard --logdir ${runDir}\`)`);
      sinks.push(writer);
    }
  }
  return sinks;
}
