// `--data org/name[@revision][:split]`: hub datasets resolve from the Hugging Face cache offline
// (datasets--org--name/snapshots/<commit>/…) or download the split's files into it from a local
// server that answers like the hub; the split is chosen by file name as the hub's conventions do.
// Where python3 has huggingface_hub, a cache it wrote resolves here. `data --model org/name` fetches
// the tokenizer only.
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { parseHubDatasetSpec } from '../lib/hub/dataset_spec.js';
import { globRegExp, readmeSplits, splitFiles } from '../lib/hub/dataset_splits.js';
import { resolveDataset } from '../lib/hub/resolve_dataset.js';
import { HubDownloadError } from '../lib/hub/download_model.js';
import { repoCacheDir } from '../lib/hub/hf_cache.js';
import { readConfigFile } from '../lib/train/config.js';
import { train } from '../lib/train/trainer.js';
import { importGguf } from '../lib/gguf/import_gguf.js';
import { blobEtag, startFakeHub, type FakeHub, type FakeRepo } from './helpers/fake_hub.js';
import { fixture } from './helpers/data_paths.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir, trainPairs, trainSandbox } from './helpers/train_fixture.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'hub-datasets-'));
const COMMIT = 'd'.repeat(39) + '1';
const CARD_COMMIT = 'e'.repeat(39) + '2';
let hub: FakeHub;

const jsonl = (rows: object[]) => Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
const pairs = trainPairs().map(({ rationale: _r, ...p }) => p);
// Sharded names (data/<split>-0000i-of-0000n): train in two JSONL shards, test in the Parquet fixture.
const sharded: FakeRepo = {
  repo: 'rdpo-test/prefs',
  type: 'dataset',
  commit: COMMIT,
  refs: { main: COMMIT },
  files: {
    '.gitattributes': { data: Buffer.from('*.parquet filter=lfs\n') },
    'data/train-00000-of-00002.jsonl': { data: jsonl(pairs.slice(0, 4)) },
    'data/train-00001-of-00002.jsonl': { data: jsonl(pairs.slice(4)) },
    'data/test-00000-of-00001.parquet': { data: readFileSync(fixture('data', 'rationale-set.zstd.parquet')), lfs: true },
  },
};
// A dataset card whose `configs:` names the files of custom splits.
const carded: FakeRepo = {
  repo: 'rdpo-test/carded',
  type: 'dataset',
  commit: CARD_COMMIT,
  refs: { main: CARD_COMMIT, v1: CARD_COMMIT },
  files: {
    'README.md': {
      data: Buffer.from(
        '---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train_prefs\n    path: prefs/train*.jsonl\n  - split: test_prefs\n    path: prefs/held-out.jsonl\n---\n# card\n',
      ),
    },
    'prefs/train.jsonl': { data: jsonl(pairs) },
    'prefs/held-out.jsonl': { data: jsonl(pairs.slice(0, 2)) },
    'train.jsonl': { data: Buffer.from('not the configured file\n') },
  },
};

test.before(async () => {
  const model = path.join(dir, 'model');
  await importGguf(fixture('gguf', 'tiny-llama.gguf'), model, { dtype: 'f32' });
  const files: FakeRepo['files'] = {};
  for (const f of readdirSync(model)) files[f] = { data: readFileSync(path.join(model, f)), lfs: f.endsWith('.safetensors') };
  const tiny: FakeRepo = { repo: 'rdpo-test/tiny-llama', commit: 'a'.repeat(40), refs: { main: 'a'.repeat(40) }, files };
  hub = await startFakeHub([sharded, carded, tiny]);
});
test.after.always(async () => {
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('parseHubDatasetSpec: org/name[@revision][:split]; data-file paths are never hub ids', (t) => {
  t.deepEqual(parseHubDatasetSpec('trl-lib/ultrafeedback_binarized'), { repo: 'trl-lib/ultrafeedback_binarized', revision: 'main', split: undefined });
  t.deepEqual(parseHubDatasetSpec('org/name@v1.0:test'), { repo: 'org/name', revision: 'v1.0', split: 'test' });
  t.deepEqual(parseHubDatasetSpec('org/name@refs/pr/3'), { repo: 'org/name', revision: 'refs/pr/3', split: undefined });
  t.deepEqual(parseHubDatasetSpec('org/name:train_prefs'), { repo: 'org/name', revision: 'main', split: 'train_prefs' });
  for (const s of ['data/pairs.jsonl', 'x/y.parquet', 'runs/a.json.gz', './a/b', '/abs/x', 'a/b/c', 'pairs.jsonl', 'org/name@', 'org/name:'])
    t.is(parseHubDatasetSpec(s), null, s);
});

test('splits by the hub conventions: card configs, sharded names, directories, file names, else all train', (t) => {
  t.true(globRegExp('data/train-*').test('data/train-00000-of-00001.parquet'));
  t.false(globRegExp('data/train-*').test('data/sub/train-0.parquet'));
  t.true(globRegExp('**/*.jsonl').test('a/b/c.jsonl') && globRegExp('**/*.jsonl').test('c.jsonl'));
  t.deepEqual([...readmeSplits('---\nconfigs:\n- config_name: default\n  data_files: all/*.json\n---\n')!], [['train', ['all/*.json']]]);
  const card = carded.files['README.md']!.data.toString();
  t.deepEqual(splitFiles(Object.keys(carded.files), 'train_prefs', card), {
    files: ['prefs/train.jsonl'],
    splits: ['train_prefs', 'test_prefs'],
    rule: 'readme configs',
  });
  t.deepEqual(splitFiles(Object.keys(sharded.files), 'train').files, ['data/train-00000-of-00002.jsonl', 'data/train-00001-of-00002.jsonl']);
  t.is(splitFiles(Object.keys(sharded.files), 'train').rule, 'sharded names');
  const dirs = ['training/a.jsonl', 'training/b.jsonl', 'dev/x.jsonl', 'README.md', 'test.jsonl'];
  t.deepEqual(splitFiles(dirs, 'train'), { files: ['training/a.jsonl', 'training/b.jsonl'], splits: ['train', 'validation'], rule: 'directory names' });
  t.deepEqual(splitFiles(dirs, 'validation').files, ['dev/x.jsonl']);
  const names = ['my_data-train.jsonl', 'my_data-valid.jsonl', 'eval.parquet', 'pretrain.jsonl', 'notes.md'];
  t.deepEqual(splitFiles(names, 'train').files, ['my_data-train.jsonl'], '"pretrain" holds no keyword');
  t.deepEqual(splitFiles(names, 'validation').files, ['my_data-valid.jsonl']);
  t.deepEqual(splitFiles(names, 'test').files, ['eval.parquet']);
  t.deepEqual(splitFiles(['pairs.jsonl', 'more.parquet'], 'train'), { files: ['more.parquet', 'pairs.jsonl'], splits: ['train'], rule: 'all files' });
});

test('download: only the split asked for, into datasets--org--name/ with refs and symlinked snapshots; then offline', async (t) => {
  const cache = path.join(dir, 'cache-dl');
  const before = hub.requests.length;
  const got = await resolveDataset('rdpo-test/prefs', { cacheDir: cache, endpoint: hub.url, offline: false, log: () => {} });
  const storage = repoCacheDir(cache, 'rdpo-test/prefs', 'dataset');
  t.is(storage, path.join(cache, 'datasets--rdpo-test--prefs'));
  t.is(readFileSync(path.join(storage, 'refs', 'main'), 'utf8'), COMMIT);
  t.deepEqual(
    got.files,
    ['data/train-00000-of-00002.jsonl', 'data/train-00001-of-00002.jsonl'].map((f) => path.join(storage, 'snapshots', COMMIT, f)),
  );
  t.is(got.split, 'train');
  t.is(got.commit, COMMIT);
  for (const f of got.files) {
    t.true(lstatSync(f).isSymbolicLink());
    t.is(readlinkSync(f), path.join('..', '..', '..', 'blobs', blobEtag(sharded.files[path.relative(path.join(storage, 'snapshots', COMMIT), f)]!)));
  }
  t.false(
    hub.requests.slice(before).some((r) => r.url.includes('test-00000')),
    'the test split is not fetched',
  );
  const n = hub.requests.length;
  t.deepEqual((await resolveDataset('rdpo-test/prefs@main:train', { cacheDir: cache, offline: true })).files, got.files);
  t.is(hub.requests.length, n, 'from the cache, no request');
  // The Parquet test split on demand; an unknown split names those there are.
  const test_ = await resolveDataset('rdpo-test/prefs:test', { cacheDir: cache, endpoint: hub.url, offline: false, log: () => {} });
  t.true(existsSync(test_.files[0]!) && test_.files[0]!.endsWith('test-00000-of-00001.parquet'));
  await t.throwsAsync(resolveDataset('rdpo-test/prefs:validation', { cacheDir: cache, endpoint: hub.url, offline: false, log: () => {} }), {
    instanceOf: HubDownloadError,
    message: /no files for split 'validation' in the repository .*the splits there: test, train/,
  });
  await t.throwsAsync(resolveDataset('rdpo-test/prefs:validation', { cacheDir: path.join(dir, 'empty'), offline: true }), {
    instanceOf: HubDownloadError,
    message: /split 'validation' is not in the Hugging Face cache at .*datasets--rdpo-test--prefs .*HF_HUB_OFFLINE is set/,
  });
  await t.throwsAsync(resolveDataset('rdpo-test/nope', { cacheDir: cache, endpoint: hub.url, offline: false, log: () => {} }), {
    instanceOf: HubDownloadError,
    message: /rdpo-test\/nope@main: not found/,
  });
  // A card's configs decide: custom split names, and by revision tag.
  const card = await resolveDataset('rdpo-test/carded@v1:test_prefs', { cacheDir: cache, endpoint: hub.url, offline: false, log: () => {} });
  t.deepEqual(
    card.files.map((f) => path.basename(f)),
    ['held-out.jsonl'],
  );
  t.deepEqual((await resolveDataset('rdpo-test/carded@v1:test_prefs', { cacheDir: cache, offline: true })).files, card.files);
});

// Checked synchronously: ava wants every test declared before the file's first await.
const probe = spawnSync('python3', ['-c', 'import huggingface_hub'], { encoding: 'utf8' });
const noHfHub =
  probe.status === 0
    ? null
    : `python3 with huggingface_hub is not available (${(probe.error?.message ?? probe.stderr.trim().split('\n').pop() ?? '').slice(0, 120)})`;
(noHfHub ? test.skip : test)(
  `a dataset cache written by Python's huggingface_hub resolves here offline${noHfHub ? ` (skipped: ${noHfHub})` : ''}`,
  async (t) => {
    const cache = path.join(dir, 'cache-py');
    const env = { ...process.env, HF_ENDPOINT: hub.url, HF_HUB_DISABLE_TELEMETRY: '1', HF_HUB_DISABLE_PROGRESS_BARS: '1', HF_HUB_DISABLE_XET: '1' };
    const { stdout } = await run(
      'python3',
      [
        '-c',
        'import sys; from huggingface_hub import snapshot_download; print(snapshot_download(sys.argv[1], repo_type="dataset", cache_dir=sys.argv[2]))',
        'rdpo-test/prefs',
        cache,
      ],
      { env },
    );
    const snapshot = stdout.trim().split('\n').pop()!;
    t.is(snapshot, path.join(cache, 'datasets--rdpo-test--prefs', 'snapshots', COMMIT));
    const got = await resolveDataset('rdpo-test/prefs:test', { cacheDir: cache, offline: true });
    t.deepEqual(got.files, [path.join(snapshot, 'data', 'test-00000-of-00001.parquet')]);
    // And what we download, huggingface_hub finds offline at the same paths.
    const ours = path.join(dir, 'cache-ours');
    const mine = await resolveDataset('rdpo-test/carded:train_prefs', { cacheDir: ours, endpoint: hub.url, offline: false, log: () => {} });
    const found = await run(
      'python3',
      [
        '-c',
        'import sys; from huggingface_hub import hf_hub_download; print(hf_hub_download(sys.argv[1], "prefs/train.jsonl", repo_type="dataset", cache_dir=sys.argv[2], local_files_only=True))',
        'rdpo-test/carded',
        ours,
      ],
      { env: { ...env, HF_HUB_OFFLINE: '1' } },
    );
    t.is(found.stdout.trim().split('\n').pop(), mine.files[0]);
  },
);

test('CLI: data org/name --model org/name reads the split and fetches the tokenizer only', async (t) => {
  ensureDist();
  const cache = path.join(dir, 'cache-cli');
  const env = { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: '' };
  const before = hub.requests.length;
  const r = await runCli(['data', 'rdpo-test/prefs', '--model', 'rdpo-test/tiny-llama', '--json'], { env });
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { file: string; pairs: number; tokens: { prompt: { count: number } } };
  t.is(report.file, 'rdpo-test/prefs');
  t.is(report.pairs, pairs.length);
  t.is(report.tokens.prompt.count, pairs.length);
  const fetched = hub.requests.slice(before).map((q) => q.url);
  t.true(fetched.some((u) => u.includes('tokenizer.json')));
  t.false(
    fetched.some((u) => u.includes('.safetensors')),
    `no weights: ${fetched.join(' ')}`,
  );
  t.false(existsSync(path.join(repoCacheDir(cache, 'rdpo-test/tiny-llama'), 'snapshots', 'a'.repeat(40), 'model.safetensors')));
  // Offline, from the cache now; a split that is not cached is named with the way out.
  const off = await runCli(['data', 'rdpo-test/prefs:train', '--json'], { env: { ...env, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' } });
  t.is(off.code, 0, off.stderr);
  const missing = await runCli(['data', 'rdpo-test/prefs:test'], { env: { ...env, HF_HUB_OFFLINE: '1' } });
  t.is(missing.code, 2);
  t.regex(missing.stderr, /split 'test' is not in the Hugging Face cache/);
});

// Serial: it points the process's HF_HUB_CACHE / HF_ENDPOINT at this test's cache and server.
test.serial('train({ data: "org/name" }): trains on the split, records the commit, names the dataset in the model card', async (t) => {
  const box = trainSandbox('hub-data-train');
  const saved = { cache: process.env.HF_HUB_CACHE, endpoint: process.env.HF_ENDPOINT, offline: process.env.HF_HUB_OFFLINE };
  process.env.HF_HUB_CACHE = path.join(dir, 'cache-train');
  process.env.HF_ENDPOINT = hub.url;
  delete process.env.HF_HUB_OFFLINE;
  try {
    const result = await train(
      { model: policyDir, data: 'rdpo-test/prefs', loss: 'dpo', batchSize: 2, maxSteps: 1, maxLength: 512, out: path.join(box.dir, 'run') },
      { log: () => {} },
    );
    t.is(result.steps, 1);
    const recorded = JSON.parse(readFileSync(path.join(result.runDir, 'config.json'), 'utf8')) as {
      config: { data: string };
      data: { hub: { commit: string; files: string[] }; trainPairs: number };
    };
    t.is(recorded.config.data, 'rdpo-test/prefs');
    t.is(recorded.data.hub.commit, COMMIT);
    t.is(recorded.data.trainPairs, pairs.length);
    const card = readFileSync(path.join(result.finalModelDir!, 'README.md'), 'utf8');
    t.deepEqual((YAML.parse(/^---\n([\s\S]*?)\n---/.exec(card)![1]!) as { datasets: string[] }).datasets, ['rdpo-test/prefs']);
    // A config file's data: a hub id stays one.
    const file = path.join(box.dir, 'run.yaml');
    writeFileSync(file, 'model: m\ndata: rdpo-test/prefs:test\n');
    t.is(readConfigFile(file).data, 'rdpo-test/prefs:test');
  } finally {
    for (const [k, v] of [
      ['HF_HUB_CACHE', saved.cache],
      ['HF_ENDPOINT', saved.endpoint],
      ['HF_HUB_OFFLINE', saved.offline],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    box.cleanup();
  }
});
