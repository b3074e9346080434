// The training progress bar: step, loss, reward accuracy, tokens/s and ETA. Quiet when stderr
// is not a terminal (CI, pipes): then one line every few steps instead.
import cliProgress from 'cli-progress';
import type { MetricsRow } from './metrics.js';

export class TrainProgress {
  private bar: cliProgress.SingleBar | undefined;
  private lastLine = 0;
  constructor(
    private total: number,
    start: number,
    private label: string,
    private enabled = true,
  ) {
    if (!enabled) return;
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `${label} {bar} {value}/{total} | loss {loss} | acc {acc} | {tps} tok/s | ETA {eta_formatted}`,
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, start, { loss: '-', acc: '-', tps: '-' });
    }
  }
  update(row: MetricsRow): void {
    if (!this.enabled) return;
    const acc = row['rewards/accuracies'];
    const payload = {
      loss: row.loss.toFixed(4),
      acc: typeof acc === 'number' ? acc.toFixed(2) : '-',
      tps: row.tokens_per_sec ? Math.round(row.tokens_per_sec).toString() : '-',
    };
    if (this.bar) {
      this.bar.update(row.step, payload);
    } else if (row.step === this.total || Date.now() - this.lastLine > 10_000) {
      this.lastLine = Date.now();
      process.stderr.write(`${this.label} step ${row.step}/${this.total} loss ${payload.loss} acc ${payload.acc} ${payload.tps} tok/s\n`);
    }
  }
  stop(): void {
    this.bar?.stop();
  }
}
