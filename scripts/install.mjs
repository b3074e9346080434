#!/usr/bin/env node
// npm install hook: find (or provision) LibTorch, then build the addon and the standalone driver
// with cmake-js. Prints progress; the build takes minutes on a small machine.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGloo } from './find-gloo.mjs';
import { findLibtorch, libtorchHelp } from './find-libtorch.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const addon = path.join(root, 'build', 'Release', 'rdpo_native.node');

// Each phase's time, printed as it ends and summed up at the end (README: what an install costs).
const phases = [];
let phaseStart = Date.now();
function step(msg) {
  process.stdout.write(`\n[rdpo-native] ${msg}\n`);
}
function endPhase(name) {
  const s = (Date.now() - phaseStart) / 1000;
  phases.push(`${name} ${s.toFixed(1)} s`);
  phaseStart = Date.now();
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
endPhase('libtorch');

// Data-parallel training needs the gloo headers at build time; without them the addon builds without it.
const gloo = findGloo(root, { log: step });
if (gloo.dir) {
  step(`gloo headers: ${gloo.dir} (${gloo.source})`);
  process.env.RDPO_GLOO_INCLUDE = gloo.dir;
} else {
  step(`building without data-parallel training: ${gloo.reason}`);
}
mkdirSync(path.join(root, 'build'), { recursive: true });
writeFileSync(path.join(root, 'build', 'gloo.json'), JSON.stringify(gloo) + '\n');
endPhase('gloo headers');

const jobs = String(Math.max(1, Math.min(os.cpus().length, Number(process.env.RDPO_BUILD_JOBS) || os.cpus().length)));
const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const cmakeJsBin = existsSync(cmakeJs) ? cmakeJs : (await import('node:module')).createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
step(`building the native core, addon and driver with ${jobs} job(s) (several minutes)`);
const common = [
  '--directory',
  root,
  '--out',
  path.join(root, 'build'),
  '--config',
  'Release',
  `--CDCMAKE_PREFIX_PATH=${found.cmakePrefixPath}`,
  `--CDRDPO_BUILD_DRIVER=${process.env.RDPO_BUILD_DRIVER === '0' ? 'OFF' : 'ON'}`,
];
// configure, then compile and link (cmake-js build), so each phase is timed on its own.
let res = spawnSync(process.execPath, [cmakeJsBin, 'configure', ...common], { stdio: 'inherit', cwd: root });
if (res.status === 0) {
  endPhase('configure');
  res = spawnSync(process.execPath, [cmakeJsBin, 'build', ...common, '--parallel', jobs], { stdio: 'inherit', cwd: root });
  endPhase('compile and link');
}
if (res.status !== 0) {
  console.error('\n[rdpo-native] native build failed (see above). `npx rdpo-native doctor` explains what is missing once it builds;');
  console.error('[rdpo-native] to retry: npm run build:native');
  process.exit(res.status ?? 1);
}
step(`built ${path.relative(root, addon)}; phases: ${phases.join(', ')} (TypeScript follows in npm's prepare step)`);
