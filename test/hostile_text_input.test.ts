// Hostile text input: a chat template that would loop (as good as) for ever ends with an
// error within its time limit, and a data file that is not UTF-8 is loaded with a warning that says
// so instead of silently replacing its bytes.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPreferences } from '../lib/data/load.js';
import { ChatTemplateError, MAX_TEMPLATE_RANGE, renderTemplate } from '../lib/tokenize/chat_template.js';

const hi = [{ role: 'user', content: 'hi' }];

test('a runaway template (nested loops) stops at its time limit with a ChatTemplateError', (t) => {
  const loop = '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x';
  const started = performance.now();
  const err = t.throws(() => renderTemplate(loop, hi, {}, { timeLimitMs: 300 }));
  const took = performance.now() - started;
  t.true(err instanceof ChatTemplateError);
  t.regex(err.message, /ran longer than 300 ms/);
  t.true(took < 5000, `took ${took} ms`);
});

test('one huge range() is refused at once; ordinary ranges behave as Python', (t) => {
  t.throws(() => renderTemplate('{% for i in range(10**12) %}{% endfor %}', hi, {}), {
    instanceOf: ChatTemplateError,
    message: new RegExp(`at most ${MAX_TEMPLATE_RANGE}`),
  });
  t.is(
    renderTemplate('{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(5, 1, -2) %}{{ i }}{% endfor %}|{{ range(2, 4) | length }}', hi, {}),
    '012|53|2',
  );
});

test('a file that is not UTF-8 loads with a warning naming it (JSONL streamed, and JSON)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdpo-utf8-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // "café" in Latin-1: 0xE9 is not valid UTF-8 on its own.
  const row = (chosen: Buffer) => Buffer.concat([Buffer.from('{"prompt":"q","chosen":"'), chosen, Buffer.from('","rejected":"no"}\n')]);
  const latin = Buffer.from('caf\xe9', 'latin1');
  const jsonl = path.join(dir, 'latin1.jsonl');
  writeFileSync(jsonl, Buffer.concat([row(Buffer.from('fine')), row(latin)]));
  const warnings: string[] = [];
  const { pairs } = await loadPreferences(jsonl, { warn: (m) => warnings.push(m) });
  t.is(pairs.length, 2);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /latin1\.jsonl is not valid UTF-8 .*replaced with U\+FFFD/);

  const json = path.join(dir, 'latin1.json');
  writeFileSync(json, Buffer.concat([Buffer.from('[{"prompt":"q","chosen":"'), latin, Buffer.from('","rejected":"no"}]')]));
  const w2: string[] = [];
  await loadPreferences(json, { warn: (m) => w2.push(m) });
  t.is(w2.length, 1);

  // Valid UTF-8 (with a real U+FFFD and multi-byte text) gives no warning.
  const good = path.join(dir, 'good.jsonl');
  writeFileSync(good, row(Buffer.from('café \ufffd 日本', 'utf8')));
  const w3: string[] = [];
  await loadPreferences(good, { warn: (m) => w3.push(m) });
  t.deepEqual(w3, []);
});
