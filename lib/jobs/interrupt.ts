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

export interface StopSignalHandle {
  /** Aborted by the first SIGINT or SIGTERM: finish (or abandon) the step, checkpoint, stop. */
  signal: AbortSignal;
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** 130 after SIGINT, 143 after SIGTERM (what a shell reports for a process killed by it), undefined otherwise. */
  readonly exitCode: number | undefined;
  dispose(): void;
}

const signalExitCode = (s: NodeJS.Signals) => (s === 'SIGTERM' ? 143 : 130);

/**
 * Training's signals: SIGINT (Ctrl-C) and SIGTERM (what Kubernetes, Slurm and `docker stop` send)
 * are one thing: the first asks the run to stop after its step with a checkpoint, which is written
 * atomically (a temporary directory renamed into place), so a second signal can exit at once
 * without touching the last good checkpoint; what it leaves is a `.tmp` that the next start removes.
 */
export function handleStopSignals(notice: (line: string) => void): StopSignalHandle {
  const stop = new AbortController();
  let received: NodeJS.Signals | undefined;
  const on = (sig: NodeJS.Signals) => {
    if (received === undefined) {
      received = sig;
      stop.abort();
      notice(`\n${sig === 'SIGINT' ? 'Ctrl-C' : sig}: finishing the current step and writing a checkpoint (a second Ctrl-C or SIGTERM quits at once)`);
      return;
    }
    process.exit(signalExitCode(received));
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    signal: stop.signal,
    get received() {
      return received;
    },
    get exitCode() {
      return received && signalExitCode(received);
    },
    dispose() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}
