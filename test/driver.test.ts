// The standalone C++ driver links the same core and runs without Node.js.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { loadNative } from '../lib/native/load.js';
import { freePort } from '../lib/train/launcher.js';
import { driverBuilt, driverPath as driver, driverTest } from './helpers/driver.js';
import { policyDir } from './helpers/train_fixture.js';

driverTest('rdpo-driver smoke trains a tiny problem on the CPU', (t) => {
  const res = spawnSync(driver, ['smoke', 'cpu'], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: '' } });
  t.is(res.status, 0, res.stderr);
  t.regex(res.stdout, /smoke OK/);
});

driverTest('rdpo-driver info reports the torch version', (t) => {
  const res = spawnSync(driver, ['info'], { encoding: 'utf8' });
  t.is(res.status, 0, res.stderr);
  t.regex(res.stdout, /^torch 2\.\d+/m);
});

driverTest('rdpo-driver rejects an unknown command with usage', (t) => {
  const res = spawnSync(driver, ['no-such-command'], { encoding: 'utf8' });
  t.is(res.status, 2);
  t.regex(res.stderr, /usage: rdpo-driver/);
});

// The driver trains through the core's data-parallel entry (native/core/train/data_parallel.h), as
// createTrainer does: each rank takes the same sequence scaled by 1/2, so the summed gradient is
// exactly one process's and so is every printed loss and gradient norm.
function runDriver(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(driver, args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const dataParallel = driverBuilt && loadNative().dataParallelSupport(false).compiled;
const dpTest = dataParallel ? test : test.skip;
if (driverBuilt && !dataParallel) console.log('skipping the data-parallel driver runs: the addon was built without Gloo');

for (const zero of [false, true]) {
  dpTest(`rdpo-driver train-sft on two ranks${zero ? ' with ZeRO-1' : ''} prints one process's numbers`, async (t) => {
    const args = ['train-sft', policyDir, '--steps', '3', '--bucket-bytes', '65536', ...(zero ? ['--zero'] : [])];
    const one = await runDriver(args, { WORLD_SIZE: '1' });
    t.is(one.status, 0, one.stderr);
    const port = String(await freePort());
    const ranks = await Promise.all(
      [0, 1].map((rank) => runDriver(args, { WORLD_SIZE: '2', RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: port })),
    );
    for (const r of ranks) t.is(r.status, 0, r.stderr);
    const numbers = (out: string) => [...out.matchAll(/^step \d+ loss (\S+) grad_norm (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    t.is(numbers(one.stdout).length, 3);
    t.deepEqual(numbers(ranks[0].stdout), numbers(one.stdout));
    t.deepEqual(numbers(ranks[1].stdout), numbers(one.stdout));
    t.regex(ranks[0].stdout, zero ? /\(reduce-scatter, \d+ buckets/ : /\(all-reduce, \d+ buckets/);
  });
}
