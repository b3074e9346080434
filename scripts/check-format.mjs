#!/usr/bin/env node
// The format check of `npm test` (docs/architecture.md): Biome formats and lints the TypeScript and
// scripts (biome.jsonc), clang-format the C++ of native/ (.clang-format). `--write` formats in place.
// Both tools come from npm (clang-format as WebAssembly), so the check runs wherever `npm ci` did.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const write = process.argv.includes('--write');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

function* cppFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* cppFiles(p);
    else if (/\.(h|cpp)$/.test(e.name)) yield path.relative(root, p);
  }
}

const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;
const biome = write ? run(bin('biome'), ['check', '--write', '.']) : run(bin('biome'), ['ci', '--reporter=summary', '.']);
const native = [...cppFiles(path.join(root, 'native'))];
const clang = run(bin('clang-format'), [...(write ? ['-i'] : ['--dry-run', '--Werror']), '--style=file', ...native]);
if (biome !== 0 || clang !== 0) {
  process.stderr.write(
    `format check failed (${[biome && 'biome', clang && 'clang-format'].filter(Boolean).join(', ')}): run \`npm run format\` and commit the result\n`,
  );
  process.exit(1);
}
if (!write)
  process.stdout.write(`format: lib/, test/, scripts/, bench/ (Biome) and ${native.length} native files (clang-format) are formatted and lint-clean\n`);
