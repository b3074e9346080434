#!/usr/bin/env node
// binding.gyp's bridge to the CMake core (docs/building.md). `node-gyp rebuild` compiles the
// Node-API layer (native/napi/*.cpp, the same folder CMake's rdpo_native globs) and links the core
// that CMake builds here into build-core/. LibTorch is found once, by scripts/find-libtorch.mjs
// (the install's finder), and CMake resolves its flags (C++ ABI define, C++ standard, include
// directories, libraries); CMake writes them to build-core/gyp/*.txt, which this prints for gyp.
// Nothing about LibTorch is written in binding.gyp itself.
//
//   node scripts/gyp-core.mjs <sources|include_dirs|cflags|defines|ldflags|libraries>
//
// Each call makes sure build-core/ is configured and up to date (the first call of a `node-gyp
// configure` builds it; the later ones find nothing to do). The value goes to stdout, one item per
// line (gyp's <!@ splits on whitespace); progress goes to stderr.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGloo } from './find-gloo.mjs';
import { findLibtorch, libtorchHelp } from './find-libtorch.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CORE_BUILD_DIR = path.join(root, 'build-core');
const KEYS = ['sources', 'include_dirs', 'cflags', 'defines', 'ldflags', 'libraries'];

const log = (msg) => process.stderr.write(`[rdpo-native gyp] ${msg}\n`);

function fail(msg) {
  log(msg);
  process.exit(1);
}

function run(cmd, args) {
  // stdout is gyp's value: everything the tools print goes to stderr.
  const res = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (res.status !== 0) fail(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')} failed (see above); fix it, then node-gyp rebuild`);
}

function cachedPrefix() {
  const cache = path.join(CORE_BUILD_DIR, 'CMakeCache.txt');
  if (!existsSync(cache)) return null;
  return /^CMAKE_PREFIX_PATH:[A-Z]+=(.*)$/m.exec(readFileSync(cache, 'utf8'))?.[1] ?? null;
}

/** Configures build-core/ (when new or LibTorch moved) and builds the core and the checks library. */
function ensureCore() {
  const found = findLibtorch({ log });
  if (found.error) fail(libtorchHelp(found.error));
  const gloo = findGloo(root, { log });
  if (gloo.dir) process.env.RDPO_GLOO_INCLUDE = gloo.dir;
  else log(`building without data-parallel training: ${gloo.reason}`);
  const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  if (cachedPrefix() !== found.cmakePrefixPath) {
    log(`configuring the core in ${path.relative(root, CORE_BUILD_DIR)}/ against LibTorch ${found.cmakePrefixPath}`);
    run(process.execPath, [
      cmakeJs,
      'configure',
      '--directory',
      root,
      '--out',
      CORE_BUILD_DIR,
      '--config',
      'Release',
      `--CDCMAKE_PREFIX_PATH=${found.cmakePrefixPath}`,
      '--CDRDPO_BUILD_ADDON=OFF',
      '--CDRDPO_BUILD_DRIVER=OFF',
    ]);
  }
  const jobs = String(Math.max(1, Number(process.env.RDPO_BUILD_JOBS) || os.cpus().length));
  run('cmake', ['--build', CORE_BUILD_DIR, '--config', 'Release', '--parallel', jobs, '--target', 'rdpo_core', 'rdpo_checks']);
}

function lines(name) {
  const file = path.join(CORE_BUILD_DIR, 'gyp', `${name}.txt`);
  if (!existsSync(file)) fail(`${file} is missing: CMake writes it when it configures build-core/ (CMakeLists.txt, RDPO_GYP_DIR)`);
  const items = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return [...new Set(items)];
}

/** The value of `key` for binding.gyp, as a list of items. */
export function gypValue(key) {
  switch (key) {
    case 'sources':
      return readdirSync(path.join(root, 'native', 'napi'))
        .filter((f) => f.endsWith('.cpp'))
        .sort()
        .map((f) => `native/napi/${f}`);
    case 'include_dirs':
      // Inside the repository (native/): include dirs; LibTorch's: -isystem in cflags (no warnings from its headers).
      return lines('include_dirs').filter((d) => d.startsWith(root + path.sep));
    case 'cflags':
      return [
        ...lines('include_dirs')
          .filter((d) => !d.startsWith(root + path.sep))
          .map((d) => `-isystem${d}`),
        ...lines('cflags'),
      ];
    case 'defines':
      return lines('defines');
    case 'ldflags':
      // libtorch_cuda has no symbol the binding references directly: --no-as-needed keeps it (CMakeLists.txt).
      return [...lines('rpath').map((d) => `-Wl,-rpath,${d}`), '-Wl,--no-as-needed'];
    case 'libraries':
      return [...lines('libraries'), '-ldl'];
    default:
      return fail(`unknown key '${key}': one of ${KEYS.join(', ')}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const key = process.argv[2];
  if (!KEYS.includes(key)) fail(`usage: node scripts/gyp-core.mjs <${KEYS.join('|')}>`);
  if (key !== 'sources') ensureCore();
  for (const item of gypValue(key)) {
    if (/\s/.test(item)) fail(`'${item}' contains whitespace, which gyp's <!@() would split: move the checkout or LibTorch to a path without spaces`);
    process.stdout.write(`${item}\n`);
  }
}
