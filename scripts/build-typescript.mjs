#!/usr/bin/env node
// npm's prepare step: compile the TypeScript (lib/ -> dist/) and print how long it took, the last of
// the install's timed phases (scripts/install.mjs prints the others).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const started = Date.now();
const res = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
if (res.status !== 0) process.exit(res.status ?? 1);
process.stdout.write(`[rdpo-native] TypeScript ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
