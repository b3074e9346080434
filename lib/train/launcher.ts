// `train --nproc N`: starts N ranks of the same command on this machine with torchrun's variables
// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so one code path
// serves this launcher and external ones (torchrun, Slurm, Kubernetes). Rank 0 keeps the terminal;
// the others' output is prefixed with their rank. When a rank fails, the others normally fail at
// their next collective within seconds (a closed connection); any still running after a grace
// period are terminated, so a dead rank never leaves the others hanging.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { onTerminationSignal } from '../util/termination_signals.js';

/** Above this many ranks per CPU core, `--nproc` is refused unless forced. */
export const MAX_RANKS_PER_CORE = 4;

/**
 * Whether `nproc` ranks suit a machine with `cores` CPU cores. Each rank is a process with its own
 * threads: above the core count they compete (a warning); far above it (64 on 2 cores) it is most
 * likely a typo and would only thrash (refused unless `force`).
 */
export function rankCountVerdict(nproc: number, cores = os.availableParallelism(), force = false): { warning?: string; refusal?: string } {
  if (nproc <= cores) return {};
  if (nproc > MAX_RANKS_PER_CORE * cores && !force) {
    return {
      refusal:
        `--nproc ${nproc} is more than ${MAX_RANKS_PER_CORE}× this machine's ${cores} CPU cores; ` +
        `use at most ${cores} (or add --force-nproc to start them anyway)`,
    };
  }
  return { warning: `--nproc ${nproc} starts more ranks than this machine's ${cores} CPU cores; they will compete for them (each rank runs its own threads)` };
}

/** The command line without `--nproc N` / `--nproc=N`. */
export function withoutNproc(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--nproc') {
      i++;
      continue;
    }
    if (a.startsWith('--nproc=')) continue;
    out.push(a);
  }
  return out;
}

/** A TCP port that was free a moment ago (the rendezvous binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function prefixLines(stream: NodeJS.ReadableStream, prefix: string, out: NodeJS.WritableStream): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split(/\r?\n/);
    pending = lines.pop()!;
    for (const line of lines) out.write(`${prefix}${line}\n`);
  });
  stream.on('end', () => {
    if (pending) out.write(`${prefix}${pending}\n`);
  });
}

export interface LaunchOptions {
  /** How long the other ranks may take to fail on their own after one failed (default 15 s). */
  graceMs?: number;
  log?: (message: string) => void;
  /** The command each rank runs (default: this node and this CLI script). */
  command?: { file: string; args: string[] };
}

/** Runs `args` as `nproc` ranks; resolves to the exit code for the launcher (0 when every rank succeeded). */
export async function launchRanks(nproc: number, args: readonly string[], opts: LaunchOptions = {}): Promise<number> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const graceMs = opts.graceMs ?? 15_000;
  const port = await freePort();
  const command = opts.command ?? { file: process.execPath, args: [...process.execArgv, process.argv[1]!] };
  const children: ChildProcess[] = [];
  let firstFailure: { rank: number; code: number } | undefined;
  let exited = 0;
  const timers: NodeJS.Timeout[] = [];

  // SIGTERM is passed on to every rank; Ctrl-C reaches every rank from the terminal (one process
  // group), so the launcher only waits: each rank stops after its step.
  const offSignals = onTerminationSignal((signal) => {
    if (signal === 'SIGTERM') for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  });

  const done = new Promise<number>((resolve) => {
    for (let rank = 0; rank < nproc; rank++) {
      const child = spawn(command.file, [...command.args, ...args], {
        env: {
          ...process.env,
          RANK: String(rank),
          WORLD_SIZE: String(nproc),
          LOCAL_RANK: String(rank),
          LOCAL_WORLD_SIZE: String(nproc),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
        },
        stdio: rank === 0 ? 'inherit' : ['ignore', 'pipe', 'pipe'],
      });
      if (rank > 0) {
        prefixLines(child.stdout!, `[rank ${rank}] `, process.stdout);
        prefixLines(child.stderr!, `[rank ${rank}] `, process.stderr);
      }
      child.on('error', (err) => {
        log(`rank ${rank} could not start: ${err.message}`);
      });
      child.on('close', (code, signal) => {
        exited++;
        const failed = code !== 0;
        if (failed && !firstFailure) {
          firstFailure = { rank, code: code ?? 1 };
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          if (code === 130 || code === 143) {
            // Ctrl-C or SIGTERM: every rank stops after the same step (lib/train/trainer.ts); nothing to report.
          } else if (exited < nproc) {
            log(`rank ${rank} ${how}; the other ranks stop at their next collective (terminated after ${graceMs / 1000} s otherwise)`);
            timers.push(
              setTimeout(() => {
                for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
                timers.push(
                  setTimeout(() => {
                    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
                  }, 5_000),
                );
              }, graceMs),
            );
          } else {
            log(`rank ${rank} ${how}`);
          }
        }
        if (exited === nproc) resolve(firstFailure ? firstFailure.code || 1 : 0);
      });
      children.push(child);
    }
  });
  try {
    return await done;
  } finally {
    for (const t of timers) clearTimeout(t);
    offSignals();
  }
}
