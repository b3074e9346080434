// An exclusive lock on a directory: a lock file holding the holder's pid and host, created
// atomically (written under a temporary name, then hard-linked into place, which fails when the
// lock exists). A lock whose holder is a process of this host that no longer runs is stale and
// taken over; one held from another host is refused with the holder named, since its liveness
// cannot be checked from here.
import { linkSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

export class DirLockedError extends Error {
  override name = 'DirLockedError';
  constructor(
    message: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(message);
  }
}

export interface DirLock {
  file: string;
  release(): void;
}

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? { pid: h.pid, host: h.host, startedAt: String(h.startedAt ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes `dir/name` or throws DirLockedError naming the holder. `what` names the directory in
 * the message ("run directory /x"). The lock is released by release() and at process exit.
 */
export function lockDir(dir: string, name: string, what: string): DirLock {
  const file = path.join(dir, name);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(me) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readHolder(file);
      const stale = holder !== undefined && holder.host === me.host && !processAlive(holder.pid);
      if (!stale || attempt > 0) {
        const who = holder ? `process ${holder.pid} on ${holder.host} (since ${holder.startedAt})` : `an unreadable lock file`;
        throw new DirLockedError(
          `${what} is in use by ${who}: ${file}. Wait for it to finish, or choose another directory` +
            (holder && holder.host !== me.host ? `; if that process is gone, delete ${file}` : holder ? '' : `; if no run uses it, delete ${file}`),
          holder,
        );
      }
      // The holder died without releasing it: take it over (one more try; a racer may win).
      rmSync(file, { force: true });
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    const holder = readHolder(file);
    if (holder?.pid === me.pid && holder.host === me.host) {
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', release);
  return { file, release };
}
