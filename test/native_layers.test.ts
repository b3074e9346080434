// The include rule of native/ (scripts/check-native-layers.mjs, run by npm test's pretest): it passes on
// this checkout and names the file, line and rule of each include that points up or out of core/.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.join(import.meta.dirname, '..', 'scripts', 'check-native-layers.mjs');
const check = (root?: string) => spawnSync(process.execPath, [SCRIPT, ...(root ? [root] : [])], { encoding: 'utf8' });

test('this checkout: every include points down the layers', (t) => {
  const r = check();
  t.is(r.status, 0, r.stderr);
});

test('an include up a layer, a Node header in core, a stray top-level file and the binding from core are refused', (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'layers-'));
  const put = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  };
  put('core/base/errors.h', '#pragma once\n');
  put('core/model/causal_lm.h', '#pragma once\n#include "core/base/errors.h"\n#include "core/train/preference_loss.h"\n');
  put('core/train/preference_loss.h', '#pragma once\n#include "core/model/causal_lm.h"\n');
  put('core/io/json.cpp', '#include <napi.h>\n');
  put('core/runtime/x.cpp', '#include "napi/errors.h"\n');
  put('core/stray.cpp', '');
  put('napi/addon.cpp', '#include <napi.h>\n#include "core/train/preference_loss.h"\n');
  const r = check(root);
  t.is(r.status, 1);
  t.regex(
    r.stderr,
    /native\/core\/model\/causal_lm\.h:3: core\/model may include model, base, io, runtime; "core\/train\/preference_loss\.h" is in core\/train/,
  );
  t.regex(r.stderr, /native\/core\/io\/json\.cpp:1: core\/ is pure LibTorch and must not include napi\.h/);
  t.regex(r.stderr, /native\/core\/runtime\/x\.cpp:1: core\/ must not include the binding/);
  t.regex(r.stderr, /native\/core\/stray\.cpp: core\/ keeps its sources in the layer folders/);
  t.notRegex(r.stderr, /preference_loss\.h:2|addon\.cpp/);
});
