// A hub on 127.0.0.1 that lies: blob names that climb out of the cache, revisions that name files
// elsewhere, and bytes that are not the ones the listing hashes. Nothing may be written outside the
// cache, and nothing unverified may be stored under a blob's name (offline runs trust those).
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadModel, HubDownloadError } from '../lib/hub/download_model.js';
import { HubNameError } from '../lib/hub/errors.js';
import { repoCacheDir } from '../lib/hub/hf_cache.js';
import { pathInside, revisionDefect } from '../lib/hub/hub_names.js';
import { resolveModel } from '../lib/hub/resolve_model.js';
import { blobEtag, startFakeHub, type FakeHubOptions, type FakeRepo } from './helpers/fake_hub.js';

const COMMIT = 'd'.repeat(40);
const dir = mkdtempSync(join(tmpdir(), 'hub-hostile-'));
const repo: FakeRepo = {
  repo: 'evil/model',
  commit: COMMIT,
  refs: { main: COMMIT },
  files: {
    'config.json': { data: Buffer.from('{"model_type":"llama","hidden_size":8}\n') },
    'model.safetensors': { data: Buffer.alloc(4096, 3), lfs: true },
  },
};
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A fresh cache under `dir/case-N/cache` and a hostile hub; `escape` is where a climb out of it lands. */
async function hostile(opts: FakeHubOptions) {
  const root = join(dir, `case-${n++}`);
  const cache = join(root, 'cache');
  mkdirSync(root, { recursive: true });
  const hub = await startFakeHub([repo], opts);
  return { root, cache, hub, storage: repoCacheDir(cache, repo.repo) };
}

const blobsOf = (storage: string) => (existsSync(join(storage, 'blobs')) ? readdirSync(join(storage, 'blobs')) : []);

for (const [which, field] of [
  ['a git oid', 'oid'],
  ['an LFS oid', 'lfs'],
] as const) {
  test(`${which} of "../../../x" is refused: nothing is written outside the cache`, async (t) => {
    const { root, cache, hub } = await hostile({
      tree: (_r, entries) =>
        entries.map((e) => {
          if (field === 'oid' && e.path === 'config.json') return { ...e, oid: '../../../escaped' };
          if (field === 'lfs' && e.lfs) return { ...e, lfs: { ...e.lfs, oid: '../../../escaped' } };
          return e;
        }),
    });
    try {
      const err = await t.throwsAsync(downloadModel({ repo: repo.repo, revision: 'main' }, { cacheDir: cache, endpoint: hub.url }), {
        instanceOf: HubNameError,
      });
      t.regex(err!.message, /evil\/model@d{40}: the hub lists (config\.json|model\.safetensors) with an? (LFS )?oid "\.\.\/\.\.\/\.\.\/escaped" that is not/);
      t.false(existsSync(join(root, 'escaped')), 'no file outside the cache');
      t.false(existsSync(join(cache, 'escaped')));
    } finally {
      await hub.close();
    }
  });
}

test('a revision that climbs out of refs/ is refused before any request; the file it names is untouched', async (t) => {
  const { root, cache, hub } = await hostile({ anyRevision: true });
  try {
    const victim = join(root, 'precious.txt');
    writeFileSync(victim, 'the user’s file\n');
    for (const rev of ['../../../precious.txt', '/etc/passwd', 'main/', 'a//b', 'x\0y']) {
      const err = await t.throwsAsync(
        downloadModel({ repo: repo.repo, revision: rev }, { cacheDir: cache, endpoint: hub.url }),
        { instanceOf: HubNameError },
        rev,
      );
      t.regex(err!.message, /evil\/model: revision ".*" is not a branch, tag or commit/, rev);
    }
    // Through --model as the CLI reads it, online and offline (the offline path reads refs/).
    await t.throwsAsync(
      resolveModel('evil/model@../../../precious.txt', { cacheDir: cache, endpoint: hub.url, offline: false, progress: false, log: () => {} }),
      {
        instanceOf: HubDownloadError,
        message: /is not a branch, tag or commit \(it holds "\.\."\)/,
      },
    );
    await t.throwsAsync(resolveModel('evil/model@../../../precious.txt', { cacheDir: cache, offline: true }), { instanceOf: HubNameError });
    t.is(readFileSync(victim, 'utf8'), 'the user’s file\n');
    t.is(hub.requests.length, 0, 'nothing was asked of the hub');
  } finally {
    await hub.close();
  }
});

test('LFS bytes of the right size but the wrong sha256 are not stored (nor left as .incomplete)', async (t) => {
  const { cache, hub, storage } = await hostile({ body: (_r, p, data) => (p === 'model.safetensors' ? Buffer.alloc(data.length, 4) : data) });
  try {
    const err = await t.throwsAsync(downloadModel({ repo: repo.repo, revision: 'main' }, { cacheDir: cache, endpoint: hub.url }), { instanceOf: HubNameError });
    t.regex(err!.message, /model\.safetensors arrived with sha256 [0-9a-f]{64}, not the [0-9a-f]{64} the hub lists for it; nothing was stored/);
    const blobs = blobsOf(storage);
    t.false(blobs.includes(blobEtag(repo.files['model.safetensors']!)), 'no blob under the promised name');
    t.deepEqual(
      blobs.filter((b) => b.includes('.incomplete')),
      [],
    );
    t.false(existsSync(join(storage, 'snapshots', COMMIT, 'model.safetensors')));
  } finally {
    await hub.close();
  }
});

test('an HTML error page padded to a git file’s size fails its git blob sha1', async (t) => {
  const { cache, hub, storage } = await hostile({
    body: (_r, p, data) => (p === 'config.json' ? Buffer.from('<html>502 Bad Gateway</html>'.padEnd(data.length, ' ')) : data),
  });
  try {
    const err = await t.throwsAsync(downloadModel({ repo: repo.repo, revision: 'main' }, { cacheDir: cache, endpoint: hub.url }), { instanceOf: HubNameError });
    t.regex(err!.message, /config\.json arrived with git blob sha1 [0-9a-f]{40}, not the [0-9a-f]{40}/);
    t.false(blobsOf(storage).includes(blobEtag(repo.files['config.json']!)));
  } finally {
    await hub.close();
  }
});

test('an honest server still downloads (the hashes it lists are the bytes it serves)', async (t) => {
  const { cache, hub, storage } = await hostile({});
  try {
    const snap = await downloadModel({ repo: repo.repo, revision: 'main' }, { cacheDir: cache, endpoint: hub.url });
    t.deepEqual(readFileSync(join(snap, 'model.safetensors')), repo.files['model.safetensors']!.data);
    t.deepEqual(blobsOf(storage).sort(), [blobEtag(repo.files['config.json']!), blobEtag(repo.files['model.safetensors']!)].sort());
  } finally {
    await hub.close();
  }
});

test('revisionDefect: branch, tag, refs/pr/N and commits pass; path tricks do not', (t) => {
  for (const ok of ['main', 'v1.0', 'refs/pr/1', 'release/2024-01', COMMIT, 'feature_x']) t.is(revisionDefect(ok), undefined, ok);
  for (const bad of ['', '..', '../x', 'a/../b', 'a/..', '/abs', 'x/', 'a//b', 'a\0b', '.hidden', 'a/.b', 'x.lock', 'has space', 'a\\b', 'a:b', 'x@{1}']) {
    t.not(revisionDefect(bad), undefined, JSON.stringify(bad));
  }
});

test('pathInside: joins inside the root, refuses what resolves outside it', (t) => {
  t.is(pathInside('/c/r', 'blobs', 'ab'), '/c/r/blobs/ab');
  t.is(pathInside('/c/r', '..dots'), '/c/r/..dots');
  for (const parts of [['..'], ['blobs', '../../x'], ['/etc/passwd'], ['a\0b'], ['.']])
    t.throws(() => pathInside('/c/r', ...parts), { instanceOf: HubNameError }, parts.join('/'));
});
