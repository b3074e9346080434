// lib/native/binding.ts declares the addon's exports by hand; this keeps the declaration honest:
// the names in `interface NativeBinding` are exactly what the built addon exports, and each
// declared function or class is one at run time.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { loadNative } from '../lib/native/load.js';
import { repoRoot } from './helpers/cli.js';

function declaredMembers(name = 'NativeBinding'): Map<string, 'method' | 'property'> {
  const file = path.join(repoRoot, 'lib', 'native', 'binding.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out = new Map<string, 'method' | 'property'>();
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name) {
      for (const m of node.members) {
        if (m.name && ts.isIdentifier(m.name)) out.set(m.name.text, ts.isMethodSignature(m) ? 'method' : 'property');
      }
    }
  });
  return out;
}

test('interface NativeBinding lists exactly the addon exports', (t) => {
  const declared = declaredMembers();
  t.true(declared.size > 10, 'the interface was found');
  const actual = Object.keys(loadNative()).sort();
  t.deepEqual([...declared.keys()].sort(), actual, 'binding.ts and native/napi/*.cpp disagree: update lib/native/binding.ts');
});

test('test hooks live on `testing` only, and interface NativeTestingHooks lists exactly them', (t) => {
  const declared = declaredMembers('NativeTestingHooks');
  t.deepEqual([...declared.keys()].sort(), Object.keys(loadNative().testing).sort());
  for (const name of declared.keys()) t.false(name in loadNative(), `${name} is not on the top-level binding`);
});

test('declared methods are functions, classes are constructors, abiVersion a number', (t) => {
  const native = loadNative() as unknown as Record<string, unknown>;
  for (const [name, kind] of declaredMembers()) {
    if (kind === 'method') t.is(typeof native[name], 'function', name);
  }
  t.is(typeof native.NativeModel, 'function');
  t.is(typeof native.NativeTrainer, 'function');
  t.is(typeof (native.testing as Record<string, unknown>).NativeTensor, 'function');
  t.is(typeof native.abiVersion, 'number');
});
