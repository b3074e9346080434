// The crash-safe JSONL journal: torn last lines, bad middle lines, the lock.
import test from 'ava';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../lib/jobs/journal.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'rdpo-journal-'));

test('appends one line per row and reads them back', (t) => {
  const file = join(tmp(), 'j.jsonl');
  const { journal, rows, tornBytes } = Journal.open(file);
  t.deepEqual(rows, []);
  t.is(tornBytes, 0);
  journal.append({ a: 1, text: 'line\nbreak' });
  journal.append({ a: 2 });
  journal.close();
  t.is(readFileSync(file, 'utf8'), '{"a":1,"text":"line\\nbreak"}\n{"a":2}\n');
  const again = Journal.open(file);
  t.deepEqual(again.rows, [{ a: 1, text: 'line\nbreak' }, { a: 2 }]);
  again.journal.close();
});

test('a torn last line is cut off on reopening, and appending continues cleanly', (t) => {
  const file = join(tmp(), 'j.jsonl');
  writeFileSync(file, '{"a":1}\n{"a":2}\n{"a":3,"text":"half a ro');
  const { journal, rows, tornBytes } = Journal.open(file);
  t.deepEqual(rows, [{ a: 1 }, { a: 2 }]);
  t.is(tornBytes, '{"a":3,"text":"half a ro'.length);
  t.is(readFileSync(file, 'utf8'), '{"a":1}\n{"a":2}\n');
  journal.append({ a: 3 });
  journal.close();
  t.is(readFileSync(file, 'utf8'), '{"a":1}\n{"a":2}\n{"a":3}\n');
});

test('a complete row that lost only its newline is also redone, never duplicated', (t) => {
  const file = join(tmp(), 'j.jsonl');
  writeFileSync(file, '{"a":1}\n{"a":2}');
  const { journal, rows } = Journal.open(file);
  t.deepEqual(rows, [{ a: 1 }]);
  journal.close();
  t.is(readFileSync(file, 'utf8'), '{"a":1}\n');
});

test('a broken line that is not the last one is an error naming the line, and the file is left alone', (t) => {
  const file = join(tmp(), 'j.jsonl');
  const text = '{"a":1}\n{"a":\n{"a":3}\n';
  writeFileSync(file, text);
  t.throws(() => Journal.open(file), { message: /j\.jsonl:2 is not valid JSON/ });
  t.is(readFileSync(file, 'utf8'), text);
  t.false(existsSync(`${file}.lock`), 'the lock is released on failure');
});

test('rows larger than the read chunk and multi-byte text survive', (t) => {
  const file = join(tmp(), 'j.jsonl');
  const big = 'é'.repeat(700_000);
  const { journal } = Journal.open(file);
  journal.append({ big });
  journal.append({ small: 'ü' });
  journal.close();
  appendFileSync(file, '{"torn":"é');
  const again = Journal.open(file);
  t.is(again.rows.length, 2);
  t.is((again.rows[0] as { big: string }).big, big);
  again.journal.close();
});

test('two writers on one file: the second is refused; a stale lock from a dead run is taken over', (t) => {
  const file = join(tmp(), 'j.jsonl');
  const first = Journal.open(file);
  t.throws(() => Journal.open(file), { message: /being written by this process already/ });
  first.journal.close();
  t.false(existsSync(`${file}.lock`));
  writeFileSync(`${file}.lock`, '999999999');
  const second = Journal.open(file);
  t.is(readFileSync(`${file}.lock`, 'utf8'), String(process.pid));
  second.journal.close();
});
