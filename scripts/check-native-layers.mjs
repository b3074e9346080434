#!/usr/bin/env node
// The include rule of native/ (docs/architecture.md), as .dependency-cruiser.cjs is lib/'s: run by
// `npm test`'s pretest. native/core/ is pure LibTorch in layers, each folder including only itself and
// the layers listed for it; the binding (napi/) and the driver sit on top, and nothing in core/ includes
// Node's headers, the binding or the driver.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The folder to check: native/ of this checkout, or the one given (the test checks a made-up tree).
const ROOT = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'native'));

/** What each layer of core/ may include besides itself (model/* sub-folders belong to model). */
const LAYERS = {
  base: [],
  io: ['base'],
  runtime: ['base'],
  distributed: ['base', 'runtime'],
  model: ['base', 'io', 'runtime'],
  train: ['base', 'io', 'runtime', 'distributed', 'model'],
  checks: ['base', 'io', 'runtime', 'distributed', 'model', 'train'],
};
/** Headers CMake generates into core/ (build_features.h) count as base. */
const GENERATED = { 'core/build_features.h': 'base' };
const NODE_HEADERS = /^(napi\.h|node_api\.h|node\.h|uv\.h)$/;

function* sources(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (/\.(h|hpp|cpp|cc)$/.test(e.name)) yield p;
  }
}

const layerOf = (rel) => {
  const parts = rel.split('/');
  return parts[0] === 'core' ? (parts.length > 2 ? parts[1] : null) : parts[0];
};

const errors = [];
for (const file of sources(ROOT)) {
  const rel = path.relative(ROOT, file).split(path.sep).join('/');
  const from = layerOf(rel);
  if (rel.startsWith('core/') && (from === null || !(from in LAYERS))) {
    errors.push(`native/${rel}: core/ keeps its sources in the layer folders (${Object.keys(LAYERS).join(', ')}); move it into one`);
    continue;
  }
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const m = /^\s*#\s*include\s*([<"])([^>"]+)[>"]/.exec(line);
      if (!m) return;
      const [, kind, target] = m;
      const where = `native/${rel}:${i + 1}`;
      if (!rel.startsWith('core/')) {
        if (kind === '"' && target.startsWith('core/checks/') && rel.startsWith('driver/'))
          errors.push(`${where}: the driver does not use the test-only checks (${target})`);
        return;
      }
      if (NODE_HEADERS.test(path.basename(target))) return errors.push(`${where}: core/ is pure LibTorch and must not include ${target}`);
      if (kind !== '"') return;
      if (/^(napi|driver)\//.test(target)) return errors.push(`${where}: core/ must not include the binding or the driver (${target})`);
      if (!target.startsWith('core/')) return errors.push(`${where}: include core headers by their path from native/ ("core/<layer>/…"), got "${target}"`);
      const to = GENERATED[target] ?? layerOf(target);
      if (to === from) return;
      if (!(to in LAYERS)) return errors.push(`${where}: "${target}" is in no layer of core/`);
      if (!LAYERS[from].includes(to))
        errors.push(`${where}: core/${from} may include ${[from, ...LAYERS[from]].join(', ')}; "${target}" is in core/${to}, a layer above or beside it`);
    });
}

if (errors.length > 0) {
  process.stderr.write(`native layering: ${errors.length} include(s) break the rule (docs/architecture.md):\n  ${errors.join('\n  ')}\n`);
  process.exit(1);
}
process.stdout.write('native layering: every include in native/ points down the layers of core/\n');
