// Ctrl-C for long runs: the first SIGINT stops taking new work and lets running requests finish,
// a second one abandons them; SIGTERM does both at once. The caller then flushes and exits.
import { setMaxListeners } from 'node:events';
import type { Interruption } from './runner.js';

export interface InterruptHandle {
  interruption: Interruption;
  /** The signal that interrupted the run, if any. */
  readonly signal: NodeJS.Signals | undefined;
  /** 130 after SIGINT, 143 after SIGTERM, undefined otherwise. */
  readonly exitCode: number | undefined;
  dispose(): void;
}

export function handleInterrupts(notice: (line: string) => void): InterruptHandle {
  const stop = new AbortController();
  const abandon = new AbortController();
  // Every request in flight listens to these (--concurrency of them); that is not a leak.
  setMaxListeners(0, stop.signal, abandon.signal);
  let signal: NodeJS.Signals | undefined;
  const onInt = () => {
    signal ??= 'SIGINT';
    if (!stop.signal.aborted) {
      stop.abort();
      notice('interrupted: no new requests; waiting for the running ones (Ctrl-C again to abandon them)');
    } else if (!abandon.signal.aborted) {
      abandon.abort();
      notice('abandoning the running requests; they are redone on the next run');
    }
  };
  const onTerm = () => {
    signal ??= 'SIGTERM';
    stop.abort();
    abandon.abort();
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    interruption: { stop: stop.signal, abandon: abandon.signal },
    get signal() {
      return signal;
    },
    get exitCode() {
      return signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : undefined;
    },
    dispose() {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}
