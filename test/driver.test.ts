// The standalone C++ driver links the same core and runs without Node.js.
import { spawnSync } from 'node:child_process';
import { driverPath as driver, driverTest } from './helpers/driver.js';

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
