// A killed process leaves its temporaries behind: `.NAME.PID.tmp` / `.old` from atomic writes
// (merge-lora, import-gguf, every file written whole) and `BLOB.PID.incomplete` from hub downloads.
// The next writer to the same place removes those whose process is gone and that are not fresh;
// a live writer's (or a just-written one's) are left alone.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { downloadModel } from '../lib/hub/download_model.js';
import { repoCacheDir } from '../lib/hub/hf_cache.js';
import { removeAbandonedTemporaries } from '../lib/util/abandoned_temporaries.js';
import { writeDirAtomic, writeFileAtomic } from '../lib/util/atomic_write.js';
import { startFakeHub, type FakeRepo } from './helpers/fake_hub.js';

/** The pid of a process that has exited. */
const deadPid = (() => {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
})();
const livePid = process.ppid;
const old = new Date(Date.now() - 3_600_000);

function box(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-abandoned-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Leaves `name` in `dir` as a killed writer would, `age`d an hour unless fresh. */
function leave(dir: string, name: string, opts: { directory?: boolean; fresh?: boolean } = {}): string {
  const p = path.join(dir, name);
  if (opts.directory) {
    mkdirSync(p);
    writeFileSync(path.join(p, 'model.safetensors'), 'partial');
  } else writeFileSync(p, 'partial');
  if (!opts.fresh) utimesSync(p, old, old);
  return p;
}

test('writeDirAtomic and writeFileAtomic remove what dead writers left for the same target', async (t) => {
  const dir = box(t);
  const deadDir = leave(dir, `.out.${deadPid}.tmp`, { directory: true });
  const deadOld = leave(dir, `.out.${deadPid}.old`, { directory: true });
  const liveDir = leave(dir, `.out.${livePid}.tmp`, { directory: true });
  const freshDead = leave(dir, `.out.${deadPid + 1}.tmp`, { directory: true, fresh: true });
  const other = leave(dir, `.other.${deadPid}.tmp`);
  await writeDirAtomic(path.join(dir, 'out'), async (tmp) => writeFileSync(path.join(tmp, 'x'), 'y'));
  t.false(existsSync(deadDir));
  t.false(existsSync(deadOld));
  t.true(existsSync(liveDir), 'a live writer keeps its temporary');
  t.true(existsSync(freshDead), 'a fresh temporary is left alone');
  t.true(existsSync(other), "another target's temporary is not touched by this write");

  const deadFile = leave(dir, `.config.json.${deadPid}.tmp`);
  writeFileAtomic(path.join(dir, 'config.json'), '{}');
  t.false(existsSync(deadFile));
  t.is(readFileSync(path.join(dir, 'config.json'), 'utf8'), '{}');
});

test('removeAbandonedTemporaries matches by name and pid only', (t) => {
  const dir = box(t);
  leave(dir, `abc.${deadPid}.incomplete`);
  leave(dir, 'abc.incomplete'); // huggingface_hub's own (no pid): not ours to judge
  leave(dir, 'keep.txt');
  const removed = removeAbandonedTemporaries(dir, /^[a-z]+\.(\d+)\.incomplete$/);
  t.deepEqual(
    removed.map((p) => path.basename(p)),
    [`abc.${deadPid}.incomplete`],
  );
  t.deepEqual(readdirSync(dir).sort(), ['abc.incomplete', 'keep.txt']);
  t.deepEqual(removeAbandonedTemporaries(path.join(dir, 'absent'), /x/), []);
});

test('a hub download removes the .incomplete blobs and ref .tmp files of dead downloads', async (t) => {
  const dir = box(t);
  const commit = 'e'.repeat(40);
  const repo: FakeRepo = {
    repo: 'org/tiny',
    commit,
    refs: { main: commit },
    files: { 'config.json': { data: Buffer.from('{"model_type":"llama"}\n') }, 'model.safetensors': { data: Buffer.alloc(1024, 1), lfs: true } },
  };
  const hub = await startFakeHub([repo]);
  t.teardown(() => hub.close());
  const cache = path.join(dir, 'cache');
  const storage = repoCacheDir(cache, repo.repo);
  mkdirSync(path.join(storage, 'blobs'), { recursive: true });
  mkdirSync(path.join(storage, 'refs'), { recursive: true });
  const blob = leave(path.join(storage, 'blobs'), `${'a'.repeat(64)}.${deadPid}.incomplete`);
  const liveBlob = leave(path.join(storage, 'blobs'), `${'b'.repeat(64)}.${livePid}.incomplete`);
  const ref = leave(path.join(storage, 'refs'), `main.${deadPid}.tmp`);
  await downloadModel({ repo: repo.repo, revision: 'main' }, { cacheDir: cache, endpoint: hub.url });
  t.false(existsSync(blob));
  t.false(existsSync(ref));
  t.true(existsSync(liveBlob));
});
