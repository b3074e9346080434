// Data-parallel training (lib/train/data_parallel.ts, native/core/distributed/, native/core/train/data_parallel.h) on Gloo:
//   - two ranks with a global batch of 4 follow one process with a batch of 4, step by step;
//   - an uneven split (batch 3 → 2 + 1 pairs) with gradient accumulation does too;
//   - ZeRO-1 (reduce-scattered gradients, sharded AdamW, all-gathered parameters) does too, sends
//     about half an all-reduce's gradient bytes, and resumes exactly;
//   - LoRA on two ranks, with and without ZeRO-1, does too, and rank 0 writes the PEFT adapter;
//   - rank 0 alone writes, and a data-parallel run resumes exactly;
//   - a rank that dies or stops makes the other exit with a clear error, never a hang;
//   - ranks started with different settings refuse before any gradient collective.
// Skipped, with the reason printed, when the addon was built without Gloo (no gloo headers).
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadNative } from '../lib/native/load.js';
import { bucketBytes, defaultBucketBytes, overlapBackward, rankEnv, shareOf } from '../lib/train/data_parallel.js';
import { freePort, withoutNproc } from '../lib/train/launcher.js';
import type { MetricsRow } from '../lib/train/metrics.js';
import { train } from '../lib/train/trainer.js';
import { cliPath, repoRoot, runCli } from './helpers/cli.js';
import { readF32Safetensors } from './helpers/safetensors_read.js';
import { policyDir, readMetricsRows, refDir, trainSandbox } from './helpers/train_fixture.js';

const support = loadNative().dataParallelSupport(true);
// Without the gloo headers every data-parallel test is skipped, serial ones too (ava's test.skip has no
// .serial of its own: test.serial.skip is the serial skip).
const skipped = Object.assign((title: string, impl: Parameters<typeof test>[1]) => test.skip(title, impl), {
  serial: (title: string, impl: Parameters<typeof test.serial>[1]) => test.serial.skip(title, impl),
});
const glooTest = (support.compiled ? test : skipped) as typeof test;
if (!support.compiled) console.log(`skipping the data-parallel runs: ${support.missing}`);

const box = trainSandbox('ddp');
test.after.always(() => box.cleanup());

// The same settings for both arms; RDPO exercises the reference log-probs (sharded over the ranks),
// rationale rows and AdamW with weight decay. 8 pairs: step 3 crosses an epoch boundary (a reshuffle).
const base = {
  model: policyDir,
  refModel: refDir,
  // One process and two ranks agree to float32 rounding only in float32 (auto is bf16 on CPUs with AVX512-BF16).
  dtype: 'float32' as const,
  data: box.data,
  loss: 'rdpo' as const,
  lr: 1e-3,
  schedule: 'linear' as const,
  warmupSteps: 1,
  weightDecay: 0.01,
  maxGradNorm: 1,
  maxLength: 512,
  maxPromptLength: 256,
  evalSize: 2,
};

function flags(config: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined) continue;
    const flag = `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
    if (v === true) out.push(flag);
    else out.push(flag, String(v));
  }
  return out;
}

function readRows(runDir: string, evalRows = false): MetricsRow[] {
  return readMetricsRows(runDir).filter((r) => (r.eval === true) === evalRows);
}

// Float32 tolerance. The ranks score their pairs in smaller packed batches (other matrix shapes,
// so other summation orders inside the GEMMs and the per-sequence sums: ~1e-7 relative per value),
// the gradient is a sum of two partial gradients instead of one, the ranks run 1 LibTorch thread
// each instead of 2, and AdamW carries these differences through the updates. Measured on the
// 2-core dev machine: at most 2.8e-6 (batch 4) and 3.3e-6 (batch 3, accumulation 2) relative over
// every compared metric (the t.log lines). The bound is ~15× that, and it is still far below a
// real error: a rank using the wrong pairs, or a missing share scale, moves these metrics by > 1%.
// Rewards are β·(log π − log π_ref) of summed log-probs: when the policy is still near the
// reference (LoRA's B starts at zero) they are small differences of large sums, so their rounding
// is measured against β·|logps|, the size of what they are the difference of.
const TOLERANCE = 5e-5;
const COMPARED = ['loss', 'grad_norm', 'rewards/margins', 'rewards/chosen', 'rewards/rejected', 'logps/chosen', 'logps/rejected', 'logps/rationale'];

async function compareWithOneProcess(t: import('ava').ExecutionContext, name: string, settings: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  const config = Object.fromEntries(Object.entries({ ...base, ...settings }).filter(([, v]) => v !== undefined));
  const one = await train({ ...config, out: path.join(box.dir, `${name}-one`) } as Parameters<typeof train>[0], { log: () => {} });
  const outTwo = path.join(box.dir, `${name}-two`);
  const r = await runCli(['train', '--nproc', '2', ...flags({ ...config, out: outTwo })], { env, timeoutMs: 240_000 });
  t.is(r.code, 0, r.stderr);
  const a = readRows(one.runDir);
  const b = readRows(outTwo);
  t.deepEqual(
    b.map((x) => x.step),
    a.map((x) => x.step),
    'one row per step, written once (rank 0 alone)',
  );
  const beta = (JSON.parse(readFileSync(path.join(one.runDir, 'config.json'), 'utf8')) as { config: { beta: number } }).config.beta;
  const diff = (key: string, x: number, y: number, row: MetricsRow) => {
    const terms = key.startsWith('rewards/') ? beta * Math.max(Math.abs(row['logps/chosen'] as number), Math.abs(row['logps/rejected'] as number)) : 0;
    return Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y), terms, 1e-12);
  };
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    for (const key of COMPARED) {
      const x = a[i]![key] as number;
      const y = b[i]![key] as number;
      t.is(typeof y, 'number', `step ${i + 1} ${key}`);
      const d = diff(key, x, y, a[i]!);
      worst = Math.max(worst, d);
      t.true(d <= TOLERANCE, `step ${i + 1} ${key}: one process ${x}, two ranks ${y} (relative difference ${d.toExponential(2)})`);
    }
    // Counts are exact: the ranks' pairs are exactly the one-process batch's.
    t.is(b[i]!.tokens, a[i]!.tokens);
    t.is(b[i]!.total_tokens, a[i]!.total_tokens);
    t.is(b[i]!.learning_rate, a[i]!.learning_rate);
  }
  // The held-out evaluation (split across the ranks like training batches) after the last step.
  const [ea, eb] = [readRows(one.runDir, true), readRows(outTwo, true)];
  t.is(eb.length, ea.length);
  for (let i = 0; i < ea.length; i++) {
    for (const key of ['loss', 'rewards/margins']) {
      const d = diff(key, ea[i]![key] as number, eb[i]![key] as number, ea[i]!);
      worst = Math.max(worst, d);
      t.true(d <= TOLERANCE, `eval ${key}: ${ea[i]![key]} vs ${eb[i]![key]}`);
    }
  }
  t.log(`${name}: largest relative difference over ${a.length} steps × ${COMPARED.length} metrics: ${worst.toExponential(2)}`);
  return { one: one.runDir, two: outTwo, stderr: r.stderr };
}

test('shares of a global micro-batch are contiguous, cover it once, and front-load the remainder', (t) => {
  t.deepEqual(
    [0, 1].map((r) => shareOf(4, r, 2)),
    [
      { start: 0, end: 2 },
      { start: 2, end: 4 },
    ],
  );
  t.deepEqual(
    [0, 1].map((r) => shareOf(3, r, 2)),
    [
      { start: 0, end: 2 },
      { start: 2, end: 3 },
    ],
  );
  t.deepEqual(
    [0, 1, 2].map((r) => shareOf(1, r, 3)),
    [
      { start: 0, end: 1 },
      { start: 1, end: 1 },
      { start: 1, end: 1 },
    ],
  );
});

test("the knobs: the bucket size defaults to the core's 25 MiB, RDPO_DDP_BUCKET_MB overrides it; RDPO_DDP_OVERLAP=0 turns overlap off", (t) => {
  t.is(defaultBucketBytes(), 25 * 2 ** 20, 'native/core/distributed/buckets.h kDefaultBucketBytes');
  t.is(bucketBytes({}), defaultBucketBytes());
  t.is(bucketBytes({ RDPO_DDP_BUCKET_MB: '0.0625' }), 65536);
  t.throws(() => bucketBytes({ RDPO_DDP_BUCKET_MB: 'lots' }), { message: /RDPO_DDP_BUCKET_MB=lots/ });
  t.true(overlapBackward({}));
  t.true(overlapBackward({ RDPO_DDP_OVERLAP: '1' }));
  t.false(overlapBackward({ RDPO_DDP_OVERLAP: '0' }));
});

test('torchrun variables: WORLD_SIZE unset or 1 is one process; bad values name the variable', (t) => {
  t.is(rankEnv({}), undefined);
  t.is(rankEnv({ WORLD_SIZE: '1', RANK: '0' }), undefined);
  t.deepEqual(rankEnv({ WORLD_SIZE: '4', RANK: '3', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500' }), {
    rank: 3,
    worldSize: 4,
    localRank: 1,
    localWorldSize: 2,
    masterAddr: '10.0.0.1',
    masterPort: 29500,
  });
  t.throws(() => rankEnv({ WORLD_SIZE: '2', RANK: '2', MASTER_PORT: '1' }), { message: /RANK=2/ });
  t.throws(() => rankEnv({ WORLD_SIZE: '2', RANK: '0' }), { message: /MASTER_PORT must be set/ });
  t.deepEqual(withoutNproc(['train', '--nproc', '2', '--out', 'x', '--nproc=3']), ['train', '--out', 'x']);
});

test('doctor reports whether data-parallel training is available, and why not', async (t) => {
  const r = await runCli(['doctor', '--json']);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { dataParallel: { available: boolean; backend: string; reason: string } };
  t.is(report.dataParallel.available, support.compiled && !support.selfTestError, report.dataParallel.reason);
  if (support.compiled) t.is(report.dataParallel.backend, 'gloo');
  else t.true(report.dataParallel.reason.length > 0);
});

glooTest("a one-rank Gloo group all-reduces (the gloo headers match LibTorch's gloo)", (t) => {
  t.is(support.selfTestError, '');
});

glooTest.serial('two Gloo ranks with a global batch of 4 follow one process with a batch of 4', async (t) => {
  const { two } = await compareWithOneProcess(t, 'b4', { batchSize: 4, maxSteps: 3 });
  const config = JSON.parse(readFileSync(path.join(two, 'config.json'), 'utf8')) as { dataParallel?: { worldSize: number } };
  t.is(config.dataParallel?.worldSize, 2);
  t.true(existsSync(path.join(two, 'final', 'model.safetensors')));
});

glooTest.serial('an uneven split (3 pairs over 2 ranks) with gradient accumulation and checkpointing follows one process', async (t) => {
  // Checkpointing recomputes layers in backward, where the bucket hooks fire.
  await compareWithOneProcess(t, 'b3', { batchSize: 3, gradAccum: 2, maxSteps: 2, gradientCheckpointing: true });
});

glooTest.serial('the gradient buckets start during backward, and give the sums an all-reduce after backward gives', async (t) => {
  // 64 KiB buckets split the tiny model into several; RDPO_DDP_OVERLAP=0 all-reduces after backward.
  const settings = { ...base, batchSize: 4, maxSteps: 2 };
  const env = { RDPO_DDP_BUCKET_MB: '0.0625' };
  const overlapped = path.join(box.dir, 'overlap-on');
  const on = await runCli(['train', '--nproc', '2', ...flags({ ...settings, out: overlapped })], { env, timeoutMs: 240_000 });
  t.is(on.code, 0, on.stderr);
  const m = /gradients all-reduced in (\d+) bucket\(s\), (\d+) started during backward/.exec(on.stderr);
  t.truthy(m, on.stderr);
  const [buckets, early] = [Number(m![1]), Number(m![2])];
  t.true(buckets > 3, `${buckets} buckets`);
  t.true(early > 0, `${early} of ${buckets} buckets started during backward`);
  t.log(`${early} of ${buckets} buckets started during backward`);
  const after = path.join(box.dir, 'overlap-off');
  const off = await runCli(['train', '--nproc', '2', ...flags({ ...settings, out: after })], { env: { ...env, RDPO_DDP_OVERLAP: '0' }, timeoutMs: 240_000 });
  t.is(off.code, 0, off.stderr);
  t.regex(off.stderr, /, 0 started during backward/);
  // The same bucket contents summed in the same order: bit-identical rows.
  for (const key of COMPARED)
    t.deepEqual(
      readRows(after).map((r) => r[key]),
      readRows(overlapped).map((r) => r[key]),
      key,
    );
});

glooTest.serial('a data-parallel run stopped at a checkpoint and resumed logs the rows of an uninterrupted one', async (t) => {
  const settings = { ...base, batchSize: 4, maxSteps: 4 };
  const full = path.join(box.dir, 'resume-full');
  t.is((await runCli(['train', '--nproc', '2', ...flags({ ...settings, out: full })], { timeoutMs: 240_000 })).code, 0);
  const split = path.join(box.dir, 'resume-split');
  const first = await runCli(['train', '--nproc', '2', ...flags({ ...settings, maxSteps: 2, saveEvery: 2, out: split })], { timeoutMs: 240_000 });
  t.is(first.code, 0, first.stderr);
  t.deepEqual(readdirSync(path.join(split, 'checkpoints')), ['step-000002']);
  const resumed = await runCli(['train', '--nproc', '2', '--resume', split, '--max-steps', '4'], { timeoutMs: 240_000 });
  t.is(resumed.code, 0, resumed.stderr);
  const a = readRows(full);
  const b = readRows(split);
  t.deepEqual(
    b.map((r) => r.step),
    [1, 2, 3, 4],
  );
  // Same ranks, same thread counts, same order of operations: bit-identical.
  for (const key of COMPARED)
    t.deepEqual(
      b.map((r) => r[key]),
      a.map((r) => r[key]),
      key,
    );
});

glooTest.serial('ZeRO-1 (reduce-scattered gradients, sharded AdamW, all-gathered parameters) follows one process', async (t) => {
  // The uneven split with accumulation and checkpointing (the held gradient buffer then holds this
  // rank's own tensors only; the others accumulate outside it until the last micro-batch sends
  // them). 64 KiB buckets: many buckets, started during backward, and the embedding's bucket
  // (larger than that) reduce-scattered in several pieces, so no rank receives two whole copies of
  // it at once. The bit-identical test below covers batch 4 without accumulation.
  const { stderr } = await compareWithOneProcess(
    t,
    'zero-b3',
    { batchSize: 3, gradAccum: 2, maxSteps: 2, gradientCheckpointing: true, zero: 1 },
    { RDPO_DDP_BUCKET_MB: '0.0625' },
  );
  const m = /gradients reduce-scattered in (\d+) bucket\(s\) \((\d+) pieces\), (\d+) started during backward/.exec(stderr);
  t.truthy(m, stderr);
  const [buckets, pieces, early] = [Number(m![1]), Number(m![2]), Number(m![3])];
  t.true(buckets > 3 && pieces > buckets && early > 0, m![0]);
  t.regex(stderr, /updated parameters all-gathered/);
  t.log(m![0]);
});

/** Rank 0's first-step bytes from the trainer's log line (/proc/self/io), in float32-gradient units. */
function bytesSent(stderr: string): { gradient: number; parameters?: number } {
  const m =
    /rank 0 sent: gradient (all-reduce|reduce-scatter) \d+ bytes \(([\d.]+) × the float32 gradient\)(?:, parameter all-gather \d+ bytes \(([\d.]+) ×)?/.exec(
      stderr,
    );
  if (!m) throw new Error(`no bytes-sent line in:\n${stderr}`);
  return { gradient: Number(m[2]), ...(m[3] !== undefined ? { parameters: Number(m[3]) } : {}) };
}

glooTest.serial('ZeRO-1 trains and resumes bit-identically to a replicated optimizer, sending half the gradient bytes', async (t) => {
  // Two ranks: the owner sums a + b as the all-reduce does, the norm is reduced in the same order
  // (OptimizerShards::clip_grad_norm), so the updates are the same bits. A resume from a ZeRO
  // checkpoint proves the gathered optimizer.safetensors holds the whole state.
  const settings = { ...base, batchSize: 4, maxSteps: 4 };
  const replicated = path.join(box.dir, 'zero-off');
  const off = await runCli(['train', '--nproc', '2', ...flags({ ...settings, out: replicated })], { timeoutMs: 240_000 });
  t.is(off.code, 0, off.stderr);
  const env = { RDPO_DDP_ZERO: '1' };
  const sharded = path.join(box.dir, 'zero-on');
  const first = await runCli(['train', '--nproc', '2', ...flags({ ...settings, maxSteps: 2, saveEvery: 2, out: sharded })], { env, timeoutMs: 240_000 });
  t.is(first.code, 0, first.stderr);
  const held = /rank 0 holds AdamW state for (\d+) of (\d+) parameters/.exec(first.stderr);
  t.truthy(held, first.stderr);
  t.true(Number(held![1]) > 0 && Number(held![1]) < Number(held![2]), held![0]);
  t.log(held![0]);
  // What rank 0's sockets carried (the kernel's count of its writes): a ring all-reduce on two
  // ranks sends the whole gradient once; the reduce-scatter sends only the other rank's tensors.
  const [ar, rs] = [bytesSent(off.stderr), bytesSent(first.stderr)];
  t.is(ar.parameters, undefined);
  t.true(ar.gradient > 0.95 && ar.gradient < 1.1, `all-reduce: ${ar.gradient} × the gradient`);
  t.true(rs.gradient / ar.gradient > 0.3 && rs.gradient / ar.gradient < 0.7, `reduce-scatter ${rs.gradient} vs all-reduce ${ar.gradient}`);
  t.true(rs.parameters! > 0.3 && rs.parameters! < 0.75, `parameter all-gather: ${rs.parameters} × the gradient`);
  t.log(`rank 0 sent per step: all-reduce ${ar.gradient} × the float32 gradient; ZeRO-1 reduce-scatter ${rs.gradient} + all-gather ${rs.parameters}`);
  const resumed = await runCli(['train', '--nproc', '2', '--resume', sharded, '--max-steps', '4'], { env, timeoutMs: 240_000 });
  t.is(resumed.code, 0, resumed.stderr);
  for (const key of COMPARED)
    t.deepEqual(
      readRows(sharded).map((r) => r[key]),
      readRows(replicated).map((r) => r[key]),
      key,
    );
});

for (const zero of [0, 1] as const) {
  glooTest.serial(`LoRA on two Gloo ranks${zero ? ' with ZeRO-1' : ''} follows one process, and rank 0 writes the PEFT adapter`, async (t) => {
    // The base is frozen and only the adapters are synchronised; no --ref-model: the reference is
    // the base with the adapters switched off, scored on each rank's share of the batches.
    const { one, two, stderr } = await compareWithOneProcess(t, `lora-z${zero}`, {
      batchSize: 4,
      maxSteps: 3,
      loraR: 4,
      loraAlpha: 8,
      refModel: undefined,
      zero,
    });
    t.regex(stderr, /LoRA r=4 alpha=8/);
    t.regex(stderr, zero ? /gradients reduce-scattered/ : /gradients all-reduced/);
    for (const dir of [one, two]) {
      const files = readdirSync(path.join(dir, 'final')).sort();
      t.true(files.includes('adapter_model.safetensors') && files.includes('adapter_config.json'), `${dir}/final: ${files.join(', ')}`);
      t.false(files.includes('model.safetensors'), 'a LoRA run writes the adapter, not the model');
    }
    const config = JSON.parse(readFileSync(path.join(two, 'final', 'adapter_config.json'), 'utf8')) as { r: number; lora_alpha: number };
    t.is(config.r, 4);
    t.is(config.lora_alpha, 8);
    // The adapter rank 0 wrote holds the one-process run's tensors (all of them: under ZeRO-1 the
    // other rank's updates reached rank 0 through the all-gather).
    const [a, b] = [
      readF32Safetensors(path.join(one, 'final', 'adapter_model.safetensors')),
      readF32Safetensors(path.join(two, 'final', 'adapter_model.safetensors')),
    ];
    t.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    // Per tensor, the largest difference relative to the tensor's largest value (B starts at zero,
    // so element-wise ratios of its small entries would measure nothing useful).
    let worst = 0;
    for (const [name, x] of a) {
      const y = b.get(name)!;
      let diff = 0,
        scale = 1e-12;
      for (let i = 0; i < x.length; i++) {
        diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
        scale = Math.max(scale, Math.abs(x[i]!));
      }
      worst = Math.max(worst, diff / scale);
    }
    t.true(worst <= TOLERANCE, `adapter tensors differ by ${worst.toExponential(2)} of their largest value`);
    t.log(`lora-z${zero}: adapter tensors within ${worst.toExponential(2)} of their largest value`);
  });
}

/** Starts rank `rank` of 2 as an external launcher would (torchrun's variables). */
function startRank(rank: number, port: number, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [cliPath, 'train', ...args], {
    cwd: repoRoot,
    env: {
      ...process.env,
      RANK: String(rank),
      WORLD_SIZE: '2',
      LOCAL_RANK: String(rank),
      LOCAL_WORLD_SIZE: '2',
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; seconds: number; stderr: string }>((resolve) => {
    const started = performance.now();
    child.on('close', (code) => resolve({ code, seconds: (performance.now() - started) / 1000, stderr }));
  });
  return { child, exited };
}

async function waitForRow(file: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (existsSync(file) && readFileSync(file, 'utf8').includes('"step"')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no metrics row in ${file} after ${timeoutMs} ms`);
}

for (const fault of ['killed', 'stopped'] as const) {
  glooTest.serial(`a rank that is ${fault} mid-run makes the other exit with a clear error within the timeout`, async (t) => {
    const out = path.join(box.dir, `fault-${fault}`);
    const port = await freePort();
    const args = flags({ ...base, loss: 'dpo', batchSize: 2, maxSteps: 100000, out });
    const env = { RDPO_DIST_TIMEOUT: '8' };
    const r0 = startRank(0, port, args, env);
    const r1 = startRank(1, port, args, env);
    await waitForRow(path.join(out, 'metrics.jsonl'), 120_000);
    const faultAt = performance.now();
    r1.child.kill(fault === 'killed' ? 'SIGKILL' : 'SIGSTOP');
    const guard = setTimeout(() => r0.child.kill('SIGKILL'), 60_000);
    const end = await r0.exited;
    clearTimeout(guard);
    const seconds = (performance.now() - faultAt) / 1000;
    if (fault === 'stopped') r1.child.kill('SIGKILL');
    await r1.exited;
    t.not(end.code, 0);
    t.not(end.code, null, "rank 0 exited by itself, not by the test's guard");
    // A dead peer closes its connections (seconds); a stopped one holds them open until the timeout (8 s).
    t.true(seconds < (fault === 'killed' ? 20 : 8 + 20), `rank 0 took ${seconds.toFixed(1)} s`);
    t.regex(end.stderr, /rank 0: .*failed/);
    t.log(`${fault}: rank 0 exited after ${seconds.toFixed(1)} s: ${end.stderr.trim().split('\n').pop()}`);
  });
}

glooTest.serial('ranks started with different settings refuse together, before training', async (t) => {
  const out = path.join(box.dir, 'mismatch');
  const port = await freePort();
  const args = flags({ ...base, batchSize: 2, maxSteps: 2, out });
  const r0 = startRank(0, port, args);
  const r1 = startRank(1, port, [...args, '--lr', '2e-3'], {});
  const [a, b] = await Promise.all([r0.exited, r1.exited]);
  for (const end of [a, b]) {
    t.not(end.code, 0);
    t.regex(end.stderr, /run settings .* differ across ranks/);
  }
  t.false(existsSync(path.join(out, 'metrics.jsonl')));
});

glooTest('--nproc refuses a run without --out, and inside an external launcher', async (t) => {
  const noOut = await runCli(['train', '--nproc', '2', '--model', policyDir, '--data', box.data]);
  t.is(noOut.code, 2, noOut.stderr);
  t.regex(noOut.stderr, /--nproc 2 needs --out/);
  const nested = await runCli(['train', '--nproc', '2', '--model', policyDir, '--data', box.data, '--out', path.join(box.dir, 'nested')], {
    env: { WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '1' },
  });
  t.regex(nested.stderr, /--nproc starts its own ranks/);
});
