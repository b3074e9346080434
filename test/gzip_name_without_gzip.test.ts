// A file named .gz that is not gzip-compressed (a `gunzip` that was never re-zipped, a rename) is
// read by its content, whatever its row count, with a warning that names it; a real .gz still
// loads without one.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadPreferences } from '../lib/data/load.js';

const row = (i: number) => JSON.stringify({ prompt: `q${i}`, chosen: `good ${i}`, rejected: `bad ${i}` }) + '\n';

for (const rows of [1, 3]) {
  test(`a plain-text data.jsonl.gz with ${rows} row(s) is read by content, with a warning`, async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-fakegz-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'data.jsonl.gz');
    writeFileSync(file, Array.from({ length: rows }, (_, i) => row(i)).join(''));
    const warnings: string[] = [];
    const { pairs } = await loadPreferences(file, { warn: (m) => warnings.push(m) });
    t.is(pairs.length, rows);
    t.is(warnings.length, 1);
    t.regex(warnings[0]!, /data\.jsonl\.gz is named \.gz but is not gzip-compressed; read as plain \.jsonl/);
  });
}

test('a real gzip data.jsonl.gz with one row loads without a warning', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-realgz-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'data.jsonl.gz');
  writeFileSync(file, gzipSync(row(0)));
  const warnings: string[] = [];
  const { pairs } = await loadPreferences(file, { warn: (m) => warnings.push(m) });
  t.is(pairs.length, 1);
  t.deepEqual(warnings, []);
});
