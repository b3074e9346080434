import test from 'ava';
import { runCli } from './helpers/cli.js';
import { explainLoadError, loadNative } from '../lib/native/load.js';

test('doctor --json reports torch 2.x, threads, devices and the addon path', async (t) => {
  const r = await runCli(['doctor', '--json']);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Record<string, unknown>;
  for (const key of ['version', 'torch', 'torchPath', 'cuda', 'devices', 'threads', 'cxx11Abi', 'cpu', 'addonPath']) {
    t.true(key in report, `missing key ${key}`);
  }
  t.regex(report.torch as string, /^2\.\d+/);
  t.is(typeof report.cuda, 'boolean');
  t.true(Array.isArray(report.devices));
  t.true((report.threads as number) >= 1);
  t.regex(report.addonPath as string, /rdpo_native\.node$/);
});

test('doctor in text form names libtorch and the CPU', async (t) => {
  const r = await runCli(['doctor']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /libtorch\s+2\./);
  t.regex(r.stdout, /CPU\s+/);
});

test('doctor says which data-parallel backends were compiled (gloo, nccl), and why one is missing', async (t) => {
  const support = loadNative().dataParallelSupport(true);
  const r = await runCli(['doctor', '--json']);
  t.is(r.code, 0, r.stderr);
  const dp = (JSON.parse(r.stdout) as { dataParallel: { backends: string[]; nccl: { available: boolean; version: string; reason: string } } }).dataParallel;
  t.deepEqual(dp.backends, [...(support.compiled ? ['gloo'] : []), ...(support.nccl ? ['nccl'] : [])]);
  t.is(dp.nccl.available, support.nccl && !support.ncclRuntimeError);
  if (dp.nccl.available) t.regex(dp.nccl.version, /^\d+\.\d+\.\d+$/);
  else t.true(dp.nccl.reason.length > 0, 'a reason when NCCL is not available');
  t.log(`backends: ${dp.backends.join(', ')}; nccl: ${dp.nccl.available ? dp.nccl.version : dp.nccl.reason}`);
  const text = await runCli(['doctor']);
  t.regex(text.stdout, new RegExp(`backends\\s+${dp.backends.join(', ') || 'none'} compiled`));
  t.regex(text.stdout, dp.nccl.available ? /nccl\s+NCCL \d+\.\d+\.\d+/ : /nccl\s+not available: ./);
});

test('a missing addon gives one actionable message, in doctor and in other commands', async (t) => {
  const env = { RDPO_ADDON_PATH: '/nonexistent/rdpo_native.node' };
  const r = await runCli(['doctor', '--json'], { env });
  t.is(r.code, 1);
  const report = JSON.parse(r.stdout) as { ok: boolean; error: string };
  t.false(report.ok);
  t.regex(report.error, /npm run build:native/);
  const text = await runCli(['doctor'], { env });
  t.is(text.code, 1);
  t.regex(text.stderr, /rdpo-native .*: the native addon failed to load|cannot find|not been built/);
  t.false(/\n\s+at /.test(text.stderr), 'no stack trace');
});

test('load errors are explained by cause', (t) => {
  t.regex(explainLoadError(new Error('libc10.so: cannot open shared object file: No such file or directory')), /RDPO_LIBTORCH/);
  t.regex(explainLoadError(new Error('/x/rdpo_native.node: undefined symbol: _ZN3c106detail14torchCheckFailEPKcS2_jRKSs')), /ABI or version.*build:native/);
  t.regex(explainLoadError(new Error('No native build was found for platform=linux')), /not been built/);
  t.regex(explainLoadError(new Error('was compiled against a different Node.js version using NODE_MODULE_VERSION 108')), /another Node\.js/);
});
