#!/usr/bin/env node
// npm install hook: find (or provision) LibTorch and the gloo headers, then build the addon with
// cmake-js (docs/building.md). Prints each phase's time; the build takes minutes on a small machine.
//   node scripts/install.mjs            the install (reuses an existing build/Release addon)
//   node scripts/install.mjs --force    rebuild (npm run build:native)
//   node scripts/install.mjs --driver   also build the standalone driver, build/rdpo-driver
//                                       (npm run build:driver; RDPO_BUILD_DRIVER=1 does it at install)
//   --driver --if-configured            only where build/ holds a CMake tree (the test set-up: a
//                                       node-gyp or prebuilt addon has none, and the driver tests skip)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGloo } from './find-gloo.mjs';
import { findLibtorch, libtorchHelp } from './find-libtorch.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const driverOnRequest = process.argv.includes('--driver');
const withDriver = driverOnRequest || process.env.RDPO_BUILD_DRIVER === '1';
const buildDir = path.join(root, 'build');
const addon = path.join(buildDir, 'Release', 'rdpo_native.node');
const configured = existsSync(path.join(buildDir, 'CMakeCache.txt'));

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

if (driverOnRequest && process.argv.includes('--if-configured') && !configured) {
  step(`no CMake build in ${path.relative(root, buildDir)}/ (a node-gyp or prebuilt addon): not building the driver; its tests skip`);
  process.exit(0);
}
if (!force && !driverOnRequest && existsSync(addon) && process.env.RDPO_REBUILD !== '1') {
  // node-gyp-build convention: an existing build is reused; `npm run build:native` forces one.
  step(`using existing build ${path.relative(root, addon)} (npm run build:native to rebuild)`);
  process.exit(0);
}

// A request for the driver alone reuses a configured build/: no finders, no configure, only what it lacks.
const reuseTree = driverOnRequest && configured;
let found = null;
if (!reuseTree) {
  step('looking for LibTorch');
  found = findLibtorch({ log: step });
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
}

const jobs = String(Math.max(1, Math.min(os.cpus().length, Number(process.env.RDPO_BUILD_JOBS) || os.cpus().length)));
const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const cmakeJsBin = existsSync(cmakeJs) ? cmakeJs : (await import('node:module')).createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
const common = [
  '--directory',
  root,
  '--out',
  buildDir,
  '--config',
  'Release',
  `--CDCMAKE_PREFIX_PATH=${found?.cmakePrefixPath}`,
  // The driver is built in a phase of its own when asked for (withDriver), never by the default target.
  '--CDRDPO_BUILD_DRIVER=OFF',
];
const cmakeJsRun = (args) => spawnSync(process.execPath, [cmakeJsBin, ...args], { stdio: 'inherit', cwd: root });
const cmakeBuild = (...targets) =>
  spawnSync('cmake', ['--build', buildDir, '--config', 'Release', '--parallel', jobs, ...targets.flatMap((t) => ['--target', t])], {
    stdio: 'inherit',
    cwd: root,
  });

// The lines a build adds to build/.ninja_log (start and end in ms, output), or nothing without Ninja.
function ninjaLog() {
  const file = path.join(buildDir, '.ninja_log');
  const before = existsSync(file) ? readFileSync(file, 'utf8').split('\n').length : 0;
  const added = () => {
    if (!existsSync(file)) return null;
    const lines = readFileSync(file, 'utf8').split('\n');
    return lines
      .slice(lines.length >= before ? Math.max(before - 1, 0) : 0)
      .map((l) => l.split('\t'))
      .filter((f) => f.length >= 4 && !f[0].startsWith('#'));
  };
  return {
    // Wall seconds of the archive and link steps (they run one after the other at the end).
    linkSeconds() {
      const rows = added();
      if (!rows) return null;
      const links = rows.filter((f) => /\.(a|node|so)$|rdpo-driver$/.test(f[3]));
      return links.reduce((s, f) => s + (Number(f[1]) - Number(f[0])) / 1000, 0);
    },
    compiled() {
      return (added() ?? []).filter((f) => /\.(o|gch)$/.test(f[3])).length;
    },
  };
}

function failed(res, what) {
  if (res.status === 0) return;
  console.error(`\n[rdpo-native] ${what} failed (see above). \`npx rdpo-native doctor\` explains what is missing once it builds;`);
  console.error(`[rdpo-native] to retry: ${driverOnRequest ? 'npm run build:driver' : 'npm run build:native'}`);
  process.exit(res.status ?? 1);
}

// Configure (CMake, cmake-js's Node headers), then one parallel build of the core, the checks and the
// addon. Ninja's log says which of that time was linking (and archiving), so compile and link are
// reported apart without splitting the build into serial steps.
if (!reuseTree) {
  step(`configuring with cmake-js (${jobs} job(s))`);
  failed(cmakeJsRun(['configure', ...common]), 'CMake configure');
  endPhase('configure');
}
if (!driverOnRequest) {
  step('compiling the native core (unity batches, a shared precompiled header) and the Node-API binding, linking the addon');
  const log = ninjaLog();
  failed(cmakeJsRun(['build', ...common, '--parallel', jobs]), 'building the addon');
  const link = log.linkSeconds();
  if (link === null) endPhase('compile and link');
  else {
    const total = (Date.now() - phaseStart) / 1000;
    phases.push(`compile ${(total - link).toFixed(1)} s (${log.compiled()} units)`, `link ${link.toFixed(1)} s`);
    phaseStart = Date.now();
  }
}
if (withDriver) {
  step('building the standalone driver build/rdpo-driver');
  failed(cmakeBuild('rdpo-driver'), 'building the driver');
  endPhase('driver');
}
const built = driverOnRequest ? path.join(buildDir, 'rdpo-driver') : addon;
const next = driverOnRequest ? '' : " (TypeScript follows in npm's prepare step)";
step(`built ${path.relative(root, built)}; phases: ${phases.join(', ')}${next}`);
