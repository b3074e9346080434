#!/usr/bin/env node
// npm install hook: find (or provision) LibTorch, then build the addon and the standalone driver
// with cmake-js. Prints progress; the build takes minutes on a small machine.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch, libtorchHelp } from './find-libtorch.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const addon = path.join(root, 'build', 'Release', 'rdpo_native.node');

function step(msg) {
  process.stdout.write(`\n[rdpo-native] ${msg}\n`);
}

if (!force && existsSync(addon) && process.env.RDPO_REBUILD !== '1') {
  // node-gyp-build convention: an existing build is reused; `npm run build:native` forces one.
  step(`using existing build ${path.relative(root, addon)} (npm run build:native to rebuild)`);
  process.exit(0);
}

step('looking for LibTorch');
const found = findLibtorch({ log: step });
if (found.error) {
  console.error('\n' + libtorchHelp(found.error) + '\n');
  process.exit(1);
}
step(`LibTorch: ${found.cmakePrefixPath} (${found.source})`);

const jobs = String(Math.max(1, Math.min(os.cpus().length, Number(process.env.RDPO_BUILD_JOBS) || os.cpus().length)));
const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const cmakeJsBin = existsSync(cmakeJs) ? cmakeJs : (await import('node:module')).createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
step(`building the native core, addon and driver with ${jobs} job(s) (several minutes)`);
const args = [
  cmakeJsBin, 'compile', '--directory', root, '--out', path.join(root, 'build'), '--config', 'Release',
  `--parallel`, jobs,
  `--CDCMAKE_PREFIX_PATH=${found.cmakePrefixPath}`,
  `--CDRDPO_BUILD_DRIVER=${process.env.RDPO_BUILD_DRIVER === '0' ? 'OFF' : 'ON'}`,
];
const res = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
if (res.status !== 0) {
  console.error('\n[rdpo-native] native build failed (see above). `npx rdpo-native doctor` explains what is missing once it builds;');
  console.error('[rdpo-native] to retry: npm run build:native');
  process.exit(res.status ?? 1);
}
step(`built ${path.relative(root, addon)}`);
