// A rationale server is an upstream we do not control: an answer larger than the response cap is
// refused after reading at most the cap (the stream is stopped, not buffered to 1 GB), and a
// rationale longer than --max-new-tokens is cut to that many tokens, with a note in its row. The
// server here is real, on 127.0.0.1, and its loops are bounded.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PreferencePair } from '../lib/data/schema.js';
import { OpenAIGenerator } from '../lib/llm/openai_generator.js';
import { GeneratorError } from '../lib/llm/retry.js';
import { generateRationales } from '../lib/rationales/generate.js';
import { builtinTemplate } from '../lib/rationales/prompts.js';
import { cutToTokenBudget } from '../lib/rationales/token_budget.js';
import { Tokenizer } from '../lib/tokenize/tokenizer.js';

const TOKENIZER = fileURLToPath(new URL('./fixtures/models/tiny-chat', import.meta.url));
const HUGE_WORDS = Array.from({ length: 100_000 }, (_, i) => `word${i % 97}`).join(' ');
const pairs: PreferencePair[] = [{ id: 'p1', prompt: 'Why is the sky blue?', chosen: 'Rayleigh scattering.', rejected: 'Paint.' } as PreferencePair];

/** A server whose chat answer is `answer()`: a JSON body, or a stream of `chunks` chunks of junk. */
async function upstream(answer: { json: string } | { chunks: number }): Promise<{ url: string; sent: () => number; close: () => Promise<void> }> {
  let sent = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if ('json' in answer) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(answer.json);
        return;
      }
      // No Content-Length: the client must stop the stream itself. Bounded: at most `chunks` MiB.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(2 ** 20, 'x');
      res.write('{"choices":[{"message":{"content":"');
      let n = 0;
      const pump = () => {
        while (n < answer.chunks && !res.destroyed) {
          n++;
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end('"}}]}');
      };
      res.on('close', () => (n = answer.chunks));
      pump();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    sent: () => sent,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('an answer larger than the response cap is refused after reading about the cap, not buffered', async (t) => {
  const server = await upstream({ chunks: 256 }); // 256 MiB if nobody stops it
  t.teardown(() => server.close());
  const gen = await OpenAIGenerator.connect({ baseURL: server.url, model: 'm', maxResponseBytes: 2 ** 20 });
  const err = await t.throwsAsync(gen.complete([{ role: 'user', content: 'hi' }], { maxNewTokens: 16, temperature: 0 }));
  t.true(err instanceof GeneratorError, String(err));
  t.regex(err.message, /answer to POST \/chat\/completions is larger than 1048576 bytes/);
  t.false((err as GeneratorError).retryable);
  await new Promise((r) => setTimeout(r, 200));
  t.true(server.sent() < 64 * 2 ** 20, `the server got to send ${server.sent()} bytes`);
});

test('a declared Content-Length above the cap is refused before the body is read', async (t) => {
  const server = await upstream({ json: JSON.stringify({ choices: [{ message: { content: 'x'.repeat(3 * 2 ** 20) } }] }) });
  t.teardown(() => server.close());
  const gen = await OpenAIGenerator.connect({ baseURL: server.url, model: 'm', maxResponseBytes: 2 ** 20 });
  await t.throwsAsync(gen.complete([{ role: 'user', content: 'hi' }], { maxNewTokens: 16, temperature: 0 }), {
    instanceOf: GeneratorError,
    message: /larger than 1048576 bytes/,
  });
});

test('cutToTokenBudget: with a tokenizer, exactly the first N tokens; without, an estimate; short text untouched', (t) => {
  const tok = Tokenizer.load(TOKENIZER);
  const cut = cutToTokenBudget(HUGE_WORDS, 256, tok);
  t.truthy(cut.note);
  t.true(tok.encode(cut.text, { addSpecialTokens: false }).length <= 256);
  t.true(tok.encode(cut.text, { addSpecialTokens: false }).length >= 250);
  t.true(HUGE_WORDS.startsWith(cut.text));
  t.regex(cut.note!, /cut to its first 256 tokens \(--max-new-tokens\), counted with the tokenizer of .*tiny-chat/);
  const est = cutToTokenBudget(HUGE_WORDS, 256);
  t.true(est.text.length < 256 * 8 && est.text.length > 100, `${est.text.length} characters`);
  t.regex(est.note!, /estimated/);
  t.deepEqual(cutToTokenBudget('short and sweet', 256, tok), { text: 'short and sweet' });
  t.deepEqual(cutToTokenBudget('short and sweet', 256), { text: 'short and sweet' });
});

test('rationales: a 100k-word rationale is stored cut to --max-new-tokens, with a note in the row', async (t) => {
  const server = await upstream({
    json: JSON.stringify({ choices: [{ message: { content: HUGE_WORDS }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 12 } }),
  });
  t.teardown(() => server.close());
  const dir = mkdtempSync(join(tmpdir(), 'rdpo-rat-bounds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'out.jsonl');
  const tok = Tokenizer.load(TOKENIZER);
  const summary = await generateRationales({
    pairs,
    outFile: out,
    style: 'general',
    template: builtinTemplate('general'),
    generator: await OpenAIGenerator.connect({ baseURL: server.url, model: 'm' }),
    sampling: { maxNewTokens: 256, temperature: 0 },
    concurrency: 1,
    retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 },
    tokenizer: tok,
    progress: false,
    log: () => {},
  });
  t.is(summary.done, 1);
  t.is(summary.truncated, 1);
  const rows = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(rows.length, 1);
  t.true(tok.encode(rows[0].rationale, { addSpecialTokens: false }).length <= 256);
  t.regex(rows[0].rationale_note, /cut to its first 256 tokens/);
});
