// `rdpo-native report RUN_DIR`: RUN_DIR/report.md with the run's curves (RUN_DIR/plots/*.svg).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import { writeRunReport } from '../../report/run_report.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'write RUN_DIR/report.md: curves of a training run (loss, reward margins and accuracies, log-probs, rationale NLL, learning rate, grad norm, tokens/s, eval against train) and its config and final metrics',
    )
    .argument('<runDir>', 'a run directory (train --out)')
    .action(async (runDir: string) => {
      if (!existsSync(runDir)) throw new UsageError(`${runDir}: no such run directory`);
      let report;
      try {
        report = await writeRunReport(runDir);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      console.log(`report: ${report.file} (${report.plots.length} plots)`);
    });
}
