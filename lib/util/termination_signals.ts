// The one place that listens for SIGINT (Ctrl-C) and SIGTERM (what Kubernetes, Slurm and `docker stop`
// send). Every long-running command reacts to both through it: the job runners (jobs/interrupt.ts),
// training (a checkpoint, then exit 130 or 143), the rank launcher (train/launcher.ts) and the server.
// While a handler is registered, Node's default (exit at once) is off for both signals.

export type TerminationSignal = 'SIGINT' | 'SIGTERM';

/** Calls `handler` with each SIGINT or SIGTERM until the returned function is called. */
export function onTerminationSignal(handler: (signal: TerminationSignal) => void): () => void {
  const onInt = () => handler('SIGINT');
  const onTerm = () => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}

/** What a shell reports for a process ended by the signal: 130 after SIGINT, 143 after SIGTERM. */
export function signalExitCode(signal: TerminationSignal): 130 | 143 {
  return signal === 'SIGTERM' ? 143 : 130;
}
