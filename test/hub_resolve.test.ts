// `--model org/name[@revision]`: hub ids resolve from the Hugging Face cache offline, and download
// into it (the layout Python's huggingface_hub uses) from a local server that answers like the hub.
// Where python3 has huggingface_hub, the layout is checked both ways: a cache written by
// huggingface_hub resolves here, and what is downloaded here huggingface_hub finds offline.
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedModelSnapshot, hubCacheDir, parseHubModelId, repoCacheDir } from '../lib/hub/hf_cache.js';
import { resolveModel } from '../lib/hub/resolve_model.js';
import { downloadModel, HubDownloadError, modelFilesToFetch } from '../lib/hub/download_model.js';
import { importGguf } from '../lib/gguf/import_gguf.js';
import { blobEtag, startFakeHub, type FakeHub, type FakeRepo } from './helpers/fake_hub.js';
import { fixture } from './helpers/data_paths.js';
import { runCli } from './helpers/cli.js';
import { ensureDist } from './helpers/ensure_dist.js';
import { policyDir, trainSandbox } from './helpers/train_fixture.js';
import { train } from '../lib/train/trainer.js';
import { readConfigFile } from '../lib/train/config.js';

const run = promisify(execFile);
const COMMIT = 'a'.repeat(39) + '1';
const OLD_COMMIT = 'b'.repeat(39) + '2';
const dir = mkdtempSync(join(tmpdir(), 'hub-'));
let hub: FakeHub;
let repo: FakeRepo;

test.before(async () => {
  // A real (tiny) model: the llama GGUF fixture imported to a Hugging Face directory.
  const model = join(dir, 'model');
  await importGguf(fixture('gguf', 'tiny-llama.gguf'), model, { dtype: 'f32' });
  const files: FakeRepo['files'] = {};
  for (const f of readdirSync(model)) files[f] = { data: readFileSync(join(model, f)), lfs: f.endsWith('.safetensors') };
  files['README.md'] = { data: Buffer.from('# tiny\n') };
  files['pytorch_model.bin'] = { data: Buffer.alloc(1000, 7), lfs: true };
  repo = { repo: 'rdpo-test/tiny-llama', commit: COMMIT, refs: { main: COMMIT, v1: COMMIT }, files };
  const old: FakeRepo = {
    repo: 'rdpo-test/only-bin',
    commit: OLD_COMMIT,
    refs: { main: OLD_COMMIT },
    files: { 'config.json': files['config.json']!, 'pytorch_model.bin': files['pytorch_model.bin']! },
  };
  const chat: FakeRepo = { repo: 'rdpo-test/tiny-chat', commit: 'c'.repeat(40), refs: { main: 'c'.repeat(40) }, files: {} };
  for (const f of readdirSync(policyDir)) chat.files[f] = { data: readFileSync(join(policyDir, f)), lfs: f.endsWith('.safetensors') };
  hub = await startFakeHub([repo, old, chat]);
});
test.after.always(async () => {
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

// Known before the tests are declared, so a missing Python is a skip with its reason, not a pass.
const python = (() => {
  const r = spawnSync('python3', ['-c', 'import huggingface_hub'], { encoding: 'utf8' });
  return r.status === 0 ? null : `python3 with huggingface_hub is not available (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`;
})();

test('parseHubModelId: org/name[@revision]; paths and bare names are not hub ids', (t) => {
  t.deepEqual(parseHubModelId('HuggingFaceTB/SmolLM2-135M-Instruct'), { repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', revision: 'main' });
  t.deepEqual(parseHubModelId('Qwen/Qwen3-0.6B@v1.0'), { repo: 'Qwen/Qwen3-0.6B', revision: 'v1.0' });
  t.deepEqual(parseHubModelId(`google/gemma-3-1b-it@${COMMIT}`), { repo: 'google/gemma-3-1b-it', revision: COMMIT });
  for (const s of ['./models/x', '/abs/path', 'gpt2', 'a/b/c', '../x', 'org/na--me', 'org/-x', 'runs/rdpo/final', 'org/name@', 'openai:http://h/v1']) {
    t.is(parseHubModelId(s), null, s);
  }
});

test('hubCacheDir: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME, else ~/.cache', (t) => {
  t.is(hubCacheDir({ HF_HUB_CACHE: '/c', HF_HOME: '/h' }), '/c');
  t.is(hubCacheDir({ HF_HOME: '/h' }), join('/h', 'hub'));
  t.is(hubCacheDir({ XDG_CACHE_HOME: '/x' }), join('/x', 'huggingface', 'hub'));
  t.true(hubCacheDir({}).endsWith(join('.cache', 'huggingface', 'hub')));
  t.is(hubCacheDir({ HF_HOME: '~/hf' }), join(homedir(), 'hf', 'hub'));
});

test('modelFilesToFetch: config, tokenizer and safetensors files only', (t) => {
  t.deepEqual(
    modelFilesToFetch([
      'config.json',
      'model-00001-of-00002.safetensors',
      'model.safetensors.index.json',
      'pytorch_model.bin',
      'README.md',
      'tokenizer.json',
      'onnx/model.onnx',
      'sub/x.safetensors',
      'generation_config.json',
    ]),
    ['config.json', 'model-00001-of-00002.safetensors', 'model.safetensors.index.json', 'tokenizer.json', 'generation_config.json'],
  );
});

/** A cache laid out by hand as huggingface_hub's file_download.py writes it. */
function handLaidCache(root: string, revisionRefs: Record<string, string>, files: Record<string, Buffer>, commit: string): string {
  const storage = repoCacheDir(root, 'org/hand-laid');
  for (const [ref, c] of Object.entries(revisionRefs)) {
    mkdirSync(join(storage, 'refs', ...ref.split('/').slice(0, -1)), { recursive: true });
    writeFileSync(join(storage, 'refs', ref), c);
  }
  mkdirSync(join(storage, 'blobs'), { recursive: true });
  mkdirSync(join(storage, 'snapshots', commit), { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    const etag = blobEtag({ data });
    writeFileSync(join(storage, 'blobs', etag), data);
    symlinkSync(join('..', '..', 'blobs', etag), join(storage, 'snapshots', commit, name));
  }
  return storage;
}

// Serial (runs before the others): it changes the working directory for a moment.
test.serial('offline: refs/<branch|tag> → snapshots/<commit>; a commit directly; incomplete or absent snapshots are not used', async (t) => {
  const cache = join(dir, 'cache-hand');
  const files = { 'config.json': Buffer.from('{"model_type":"llama"}'), 'model.safetensors': Buffer.from('x') };
  const storage = handLaidCache(cache, { main: COMMIT, 'refs/pr/1': COMMIT }, files, COMMIT);
  const snap = join(storage, 'snapshots', COMMIT);
  t.is(await resolveModel('org/hand-laid', { cacheDir: cache, offline: true }), snap);
  t.is(await resolveModel('org/hand-laid@refs/pr/1', { cacheDir: cache, offline: true }), snap);
  t.is(await resolveModel(`org/hand-laid@${COMMIT}`, { cacheDir: cache, offline: true }), snap);
  // Not cached, offline: the error names the cache and the way out, and nothing is fetched.
  const before = hub.requests.length;
  const err = await t.throwsAsync(resolveModel('org/hand-laid@v2', { cacheDir: cache, offline: true, endpoint: hub.url }), { instanceOf: HubDownloadError });
  t.regex(
    err!.message,
    /org\/hand-laid@v2: not a local directory, and not in the Hugging Face cache at .*models--org--hand-laid \(revision v2\); HF_HUB_OFFLINE is set/,
  );
  t.is(hub.requests.length, before);
  // A sharded checkpoint whose shard is missing (a dangling link) is incomplete.
  writeFileSync(
    join(snap, 'model.safetensors.index.json'),
    JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }),
  );
  symlinkSync(join('..', '..', 'blobs', 'missing'), join(snap, 'model-00001-of-00002.safetensors'));
  t.is(cachedModelSnapshot(cache, { repo: 'org/hand-laid', revision: 'main' }), null);
  // An existing local directory named like a hub id always wins.
  mkdirSync(join(dir, 'org', 'hand-laid'), { recursive: true });
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    t.is(await resolveModel('org/hand-laid', { cacheDir: cache, offline: true }), 'org/hand-laid');
  } finally {
    process.chdir(cwd);
  }
});

test('download: the revision’s files into blobs/ + symlinked snapshots/<commit>/ + refs/, then served from the cache', async (t) => {
  const cache = join(dir, 'cache-dl');
  const lines: string[] = [];
  const first = hub.requests.length;
  const snap = await resolveModel('rdpo-test/tiny-llama@v1', {
    cacheDir: cache,
    endpoint: hub.url,
    offline: false,
    progress: false,
    log: (l) => lines.push(l),
  });
  const storage = repoCacheDir(cache, 'rdpo-test/tiny-llama');
  t.is(snap, join(storage, 'snapshots', COMMIT));
  t.is(readFileSync(join(storage, 'refs', 'v1'), 'utf8'), COMMIT);
  t.regex(lines.join('\n'), /downloading from http:\/\/127\.0\.0\.1:\d+ into /);
  const got = readdirSync(snap).sort();
  t.deepEqual(got, ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  for (const f of got) {
    const link = join(snap, f);
    t.true(lstatSync(link).isSymbolicLink(), `${f} is a symlink`);
    t.is(readlinkSync(link), join('..', '..', 'blobs', blobEtag(repo.files[f]!)), f);
    t.deepEqual(readFileSync(link), repo.files[f]!.data, f);
  }
  t.false(readdirSync(join(storage, 'blobs')).some((b) => b.endsWith('.incomplete')));
  t.false(
    hub.requests.slice(first).some((r) => r.url.includes('pytorch_model.bin')),
    'the .bin weights are not fetched',
  );
  // Cached now: the same id resolves without a request, also offline and by commit.
  const n = hub.requests.length;
  t.is(await resolveModel('rdpo-test/tiny-llama@v1', { cacheDir: cache, endpoint: hub.url, offline: false }), snap);
  t.is(await resolveModel(`rdpo-test/tiny-llama@${COMMIT}`, { cacheDir: cache, offline: true }), snap);
  t.is(hub.requests.length, n);
  // The byte counts behind the progress bar: they end at the total of what was fetched.
  const seen: [number, number][] = [];
  await downloadModel(
    { repo: 'rdpo-test/tiny-llama', revision: 'main' },
    { cacheDir: join(dir, 'cache-progress'), endpoint: hub.url, onBytes: (d, total) => seen.push([d, total]) },
  );
  const total = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].reduce(
    (a, f) => a + repo.files[f]!.data.length,
    0,
  );
  t.deepEqual(seen.at(-1), [total, total]);
  t.true(seen.every(([d], i) => i === 0 || d >= seen[i - 1]![0]));
});

test('download errors: unknown repo, no safetensors, gated without/with a wrong token (never printed)', async (t) => {
  const cache = join(dir, 'cache-err');
  const opts = { cacheDir: cache, endpoint: hub.url, offline: false, progress: false, log: () => {} };
  await t.throwsAsync(resolveModel('rdpo-test/nope', opts), {
    instanceOf: HubDownloadError,
    message: /rdpo-test\/nope@main: not found on http:\/\/127\.0\.0\.1/,
  });
  await t.throwsAsync(resolveModel('rdpo-test/only-bin', opts), {
    instanceOf: HubDownloadError,
    message: /no \.safetensors weights \(only pytorch_model\.bin\)/,
  });
  const gated = await startFakeHub([repo], { token: 'hf_right' });
  const saved = process.env.HF_TOKEN;
  try {
    delete process.env.HF_TOKEN;
    const e1 = await t.throwsAsync(resolveModel('rdpo-test/tiny-llama', { ...opts, endpoint: gated.url }), { instanceOf: HubDownloadError });
    t.regex(e1!.message, /refused access \(HTTP 401\).*set HF_TOKEN/);
    process.env.HF_TOKEN = 'hf_wrong_secret';
    const e2 = await t.throwsAsync(resolveModel('rdpo-test/tiny-llama', { ...opts, endpoint: gated.url }), { instanceOf: HubDownloadError });
    t.regex(e2!.message, /token in HF_TOKEN has no access/);
    t.false(e2!.message.includes('hf_wrong_secret'));
    t.is(gated.requests.at(-1)!.authorization, 'Bearer hf_wrong_secret');
    process.env.HF_TOKEN = 'hf_right';
    const from = gated.requests.length;
    const snap = await resolveModel('rdpo-test/tiny-llama', { ...opts, cacheDir: join(dir, 'cache-gated'), endpoint: gated.url });
    t.true(existsSync(join(snap, 'model.safetensors')));
    t.true(
      gated.requests.slice(from).every((r) => r.authorization === 'Bearer hf_right'),
      'every request carries the token',
    );
  } finally {
    if (saved === undefined) delete process.env.HF_TOKEN;
    else process.env.HF_TOKEN = saved;
    await gated.close();
  }
});

(python ? test.skip : test)(
  `huggingface_hub interop: its cache resolves here; what is downloaded here it finds offline${python ? ` (skipped: ${python})` : ''}`,
  async (t) => {
    const env = { ...process.env, HF_ENDPOINT: hub.url, HF_HUB_DISABLE_TELEMETRY: '1', HF_HUB_DISABLE_PROGRESS_BARS: '1', HF_HUB_DISABLE_XET: '1' };
    // 1. huggingface_hub downloads into cache A (the files we would fetch); we resolve it offline.
    const a = join(dir, 'cache-py');
    const py1 = await run(
      'python3',
      [
        '-c',
        'import sys; from huggingface_hub import snapshot_download; print(snapshot_download(sys.argv[1], cache_dir=sys.argv[2], allow_patterns=["*.json", "*.safetensors"]))',
        'rdpo-test/tiny-llama',
        a,
      ],
      { env },
    );
    const pySnap = py1.stdout.trim().split('\n').pop()!;
    t.is(await resolveModel('rdpo-test/tiny-llama', { cacheDir: a, offline: true }), pySnap);
    // 2. We download into cache B; huggingface_hub, offline, finds every file at the same place.
    const b = join(dir, 'cache-ours');
    const ours = await resolveModel('rdpo-test/tiny-llama', { cacheDir: b, endpoint: hub.url, offline: false, progress: false, log: () => {} });
    const py2 = await run(
      'python3',
      [
        '-c',
        'import sys, json; from huggingface_hub import hf_hub_download, snapshot_download\n' +
          'snap = snapshot_download(sys.argv[1], cache_dir=sys.argv[2], local_files_only=True)\n' +
          'files = {f: hf_hub_download(sys.argv[1], f, cache_dir=sys.argv[2], local_files_only=True) for f in ["config.json", "model.safetensors", "tokenizer.json"]}\n' +
          'print(json.dumps({"snapshot": snap, "files": files}))',
        'rdpo-test/tiny-llama',
        b,
      ],
      { env: { ...env, HF_HUB_OFFLINE: '1' } },
    );
    const found = JSON.parse(py2.stdout.trim().split('\n').pop()!) as { snapshot: string; files: Record<string, string> };
    t.is(found.snapshot, ours);
    for (const [f, p] of Object.entries(found.files)) t.is(p, join(ours, f));
  },
);

test('CLI: logprobs --model org/name downloads once, then runs from the cache offline', async (t) => {
  ensureDist();
  const cache = join(dir, 'cache-cli');
  const data = join(dir, 'pairs.jsonl');
  writeFileSync(data, JSON.stringify({ prompt: 'Hello', chosen: ' world', rejected: ' there' }) + '\n');
  const env = { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: '' };
  const r1 = await runCli(['logprobs', '--model', 'rdpo-test/tiny-llama', '--data', data, '--out', join(dir, 'lp1.jsonl'), '--prompt-format', 'plain'], {
    env,
  });
  t.is(r1.code, 0, r1.stderr);
  t.true(existsSync(join(repoCacheDir(cache, 'rdpo-test/tiny-llama'), 'refs', 'main')));
  const r2 = await runCli(['logprobs', '--model', 'rdpo-test/tiny-llama@main', '--data', data, '--out', join(dir, 'lp2.jsonl'), '--prompt-format', 'plain'], {
    env: { ...env, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' },
  });
  t.is(r2.code, 0, r2.stderr);
  t.deepEqual(readFileSync(join(dir, 'lp2.jsonl'), 'utf8'), readFileSync(join(dir, 'lp1.jsonl'), 'utf8'));
  const r3 = await runCli(['logprobs', '--model', 'rdpo-test/not-cached', '--data', data, '--out', join(dir, 'lp3.jsonl')], {
    env: { ...env, HF_HUB_OFFLINE: '1' },
  });
  t.is(r3.code, 2);
  t.regex(r3.stderr, /rdpo-test\/not-cached: not a local directory, and not in the Hugging Face cache/);
});

// Serial: it points the process's HF_HUB_CACHE / HF_ENDPOINT at this test's cache and server.
test.serial('train({ model: "org/name" }) downloads the policy, trains, and records the hub id', async (t) => {
  const box = trainSandbox('hub-train');
  const saved = { cache: process.env.HF_HUB_CACHE, endpoint: process.env.HF_ENDPOINT, offline: process.env.HF_HUB_OFFLINE };
  process.env.HF_HUB_CACHE = join(dir, 'cache-train');
  process.env.HF_ENDPOINT = hub.url;
  delete process.env.HF_HUB_OFFLINE;
  try {
    const result = await train(
      { model: 'rdpo-test/tiny-chat', data: box.dataNoRationale, loss: 'dpo', batchSize: 2, maxSteps: 1, out: join(box.dir, 'run') },
      { log: () => {} },
    );
    t.is(result.steps, 1);
    t.true(existsSync(join(result.finalModelDir!, 'model.safetensors')));
    const recorded = JSON.parse(readFileSync(join(result.runDir, 'config.json'), 'utf8')) as { config: { model: string } };
    t.is(recorded.config.model, 'rdpo-test/tiny-chat');
    t.true(existsSync(join(repoCacheDir(process.env.HF_HUB_CACHE, 'rdpo-test/tiny-chat'), 'refs', 'main')));
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

test('a config file’s model: a hub id stays one; a directory of that name next to the file wins', (t) => {
  const d = join(dir, 'cfg');
  mkdirSync(join(d, 'org', 'local-model'), { recursive: true });
  const file = join(d, 'run.yaml');
  writeFileSync(file, 'model: rdpo-test/tiny-chat\nref_model: org/local-model\ndata: pairs.jsonl\n');
  const cfg = readConfigFile(file);
  t.is(cfg.model, 'rdpo-test/tiny-chat');
  t.is(cfg.refModel, join(d, 'org', 'local-model'));
  t.is(cfg.data, join(d, 'pairs.jsonl'));
});
