// A progress bar on stderr with rate and ETA; silent when stderr is not a terminal (logs, CI, pipes).
import cliProgress from 'cli-progress';

export class Progress {
  private readonly bar: cliProgress.SingleBar | undefined;
  private readonly started = Date.now();
  private value = 0;
  private failed = 0;

  constructor(
    readonly total: number,
    label: string,
    enabled: boolean = process.stderr.isTTY === true,
  ) {
    if (!enabled || total === 0) return;
    this.bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `${label} {bar} {value}/{total} | {rate}/s | ETA {eta_formatted} | failed {failed}`,
        etaBuffer: 50,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { rate: '0.00', failed: 0 });
  }

  tick(outcome: 'done' | 'failed'): void {
    this.value++;
    if (outcome === 'failed') this.failed++;
    const seconds = (Date.now() - this.started) / 1000;
    this.bar?.update(this.value, { rate: seconds > 0 ? (this.value / seconds).toFixed(2) : '0.00', failed: this.failed });
  }

  /** Prints a message on its own line, so that the bar does not overwrite it. */
  note(message: string, log: (line: string) => void): void {
    if (this.bar) process.stderr.write('\n');
    log(message);
  }

  stop(): void {
    this.bar?.stop();
  }
}
