// Both builds of the addon (docs/building.md): cmake-js (npm install) and node-gyp (binding.gyp,
// npm run build:gyp) write build/Release/rdpo_native.node. Whichever is loaded must load on its own
// in a fresh process (rpath to LibTorch, no LD_LIBRARY_PATH) with the ABI version lib/native expects;
// native_exports.test.ts holds its exports to lib/native/binding.ts. .ci/run runs the native tests
// once per build, with RDPO_EXPECT_BUILD naming the build that must be the one loaded.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { addonPath, EXPECTED_ABI_VERSION, loadNative } from '../lib/native/load.js';
import { repoRoot } from './helpers/cli.js';

test('the addon loads in a fresh process without LD_LIBRARY_PATH, with the expected ABI version and exports', (t) => {
  const file = addonPath();
  const probe =
    'const b = require(process.argv[1]); console.log(JSON.stringify({ abi: b.abiVersion, keys: Object.keys(b).sort(), testing: Object.keys(b.testing).sort() }))';
  const env = { ...process.env };
  delete env.LD_LIBRARY_PATH;
  const res = spawnSync(process.execPath, ['-e', probe, file], { encoding: 'utf8', env });
  t.is(res.status, 0, `${file} did not load on its own: ${res.stderr}`);
  const seen = JSON.parse(res.stdout) as { abi: number; keys: string[]; testing: string[] };
  t.is(seen.abi, EXPECTED_ABI_VERSION, `${file}: abiVersion`);
  const native = loadNative();
  t.deepEqual(seen.keys, Object.keys(native).sort(), 'the fresh process sees the exports this process sees');
  t.deepEqual(seen.testing, Object.keys(native.testing).sort());
});

const expected = process.env.RDPO_EXPECT_BUILD;
if (!expected) console.log('skipping the build-origin check: RDPO_EXPECT_BUILD is unset (.ci/run sets it to cmake-js, then node-gyp)');
(expected ? test : test.skip)('the addon loaded is the one the build named by RDPO_EXPECT_BUILD wrote', (t) => {
  const build = path.join(repoRoot, 'build');
  t.is(path.resolve(addonPath()), path.join(build, 'Release', 'rdpo_native.node'));
  if (expected === 'node-gyp') {
    t.true(existsSync(path.join(build, 'rdpo_native.target.mk')), 'node-gyp leaves its makefile for the target in build/');
    t.false(existsSync(path.join(build, 'CMakeCache.txt')), 'node-gyp rebuild replaced the cmake-js build');
  } else {
    t.is(expected, 'cmake-js', 'RDPO_EXPECT_BUILD is cmake-js or node-gyp');
    t.true(existsSync(path.join(build, 'CMakeCache.txt')), 'cmake-js configured build/');
  }
});
