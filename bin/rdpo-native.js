#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (compiled from lib/ by `npm install`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('rdpo-native: dist/ is missing; run `npm install` (or `npm run build`) in the package directory first.');
  process.exit(1);
}
await import(main.href);
