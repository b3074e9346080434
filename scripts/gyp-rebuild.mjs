#!/usr/bin/env node
// npm run build:gyp: `node-gyp rebuild` of binding.gyp (docs/building.md), offline where it can be.
// node-gyp downloads Node's headers from nodejs.org unless told where they are; the Node running
// this ships them beside itself (<prefix>/include/node, with common.gypi) in most installs, so
// --nodedir points there when they exist. npm_config_nodedir or an explicit --nodedir wins.
// Extra arguments go to node-gyp (e.g. --jobs 2, --verbose).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const prefix = path.resolve(path.dirname(process.execPath), '..');
const localHeaders = ['node_api.h', 'common.gypi'].every((f) => existsSync(path.join(prefix, 'include', 'node', f)));
if (!args.some((a) => a.startsWith('--nodedir')) && !process.env.npm_config_nodedir && localHeaders) args.push(`--nodedir=${prefix}`);
if (!args.some((a) => a.startsWith('--jobs') || a === '-j')) args.push('--jobs', 'max');

const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
process.stdout.write(`[rdpo-native] node-gyp rebuild ${args.join(' ')} (replaces build/, a cmake-js build included)\n`);
const started = Date.now();
const res = spawnSync(process.execPath, [nodeGyp, 'rebuild', ...args], { stdio: 'inherit', cwd: root });
if (res.status !== 0) {
  console.error('[rdpo-native] node-gyp rebuild failed (see above); npm run build:native builds the same addon with cmake-js');
  process.exit(res.status ?? 1);
}
process.stdout.write(`[rdpo-native] built build/Release/rdpo_native.node with node-gyp in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
