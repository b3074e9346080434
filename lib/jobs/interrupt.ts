// Ctrl-C for long runs: the first SIGINT stops taking new work and lets running requests finish,
// a second one abandons them; SIGTERM does both at once. The caller then flushes and exits.
// Training's policy is the other one here (handleStopSignals). Both listen through
// util/termination_signals.ts, the one listener of the package.
import { setMaxListeners } from 'node:events';
import { onTerminationSignal, signalExitCode, type TerminationSignal } from '../util/termination_signals.js';
import type { Interruption } from './runner.js';

export interface InterruptHandle {
  interruption: Interruption;
  /** The signal that interrupted the run, if any. */
  readonly signal: TerminationSignal | undefined;
  /** 130 after SIGINT, 143 after SIGTERM, undefined otherwise. */
  readonly exitCode: number | undefined;
  dispose(): void;
}

export function handleInterrupts(notice: (line: string) => void): InterruptHandle {
  const stop = new AbortController();
  const abandon = new AbortController();
  // Every request in flight listens to these (--concurrency of them); that is not a leak.
  setMaxListeners(0, stop.signal, abandon.signal);
  let signal: TerminationSignal | undefined;
  const off = onTerminationSignal((received) => {
    signal ??= received;
    if (received === 'SIGTERM') {
      stop.abort();
      abandon.abort();
    } else if (!stop.signal.aborted) {
      stop.abort();
      notice('interrupted: no new requests; waiting for the running ones (Ctrl-C again to abandon them)');
    } else if (!abandon.signal.aborted) {
      abandon.abort();
      notice('abandoning the running requests; they are redone on the next run');
    }
  });
  return {
    interruption: { stop: stop.signal, abandon: abandon.signal },
    get signal() {
      return signal;
    },
    get exitCode() {
      return signal && signalExitCode(signal);
    },
    dispose: off,
  };
}

export interface StopSignalHandle {
  /** Aborted by the first SIGINT or SIGTERM: finish (or abandon) the step, checkpoint, stop. */
  signal: AbortSignal;
  /** The first signal received, if any. */
  readonly received: TerminationSignal | undefined;
  /** 130 after SIGINT, 143 after SIGTERM (what a shell reports for a process killed by it), undefined otherwise. */
  readonly exitCode: number | undefined;
  dispose(): void;
}

/**
 * Training's signals: SIGINT (Ctrl-C) and SIGTERM (what Kubernetes, Slurm and `docker stop` send)
 * are one thing: the first asks the run to stop after its step with a checkpoint, which is written
 * atomically (a temporary directory renamed into place), so a second signal can exit at once
 * without touching the last good checkpoint; what it leaves is a `.tmp` that the next start removes.
 */
export function handleStopSignals(notice: (line: string) => void): StopSignalHandle {
  const stop = new AbortController();
  let received: TerminationSignal | undefined;
  const off = onTerminationSignal((sig) => {
    if (received === undefined) {
      received = sig;
      stop.abort();
      notice(`\n${sig === 'SIGINT' ? 'Ctrl-C' : sig}: finishing the current step and writing a checkpoint (a second Ctrl-C or SIGTERM quits at once)`);
      return;
    }
    process.exit(signalExitCode(received));
  });
  return {
    signal: stop.signal,
    get received() {
      return received;
    },
    get exitCode() {
      return received && signalExitCode(received);
    },
    dispose: off,
  };
}
