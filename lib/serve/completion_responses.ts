// Answering /v1/chat/completions and /v1/completions once their requests are checked: every
// choice (prompts × n) generated through the engine, whole or streamed as server-sent events,
// with log-probs when asked for and usage on every answer, in OpenAI's two response shapes.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ScoredToken } from '../inference/text_generator.js';
import { EngineAbortedError, type ChatEngine, type Sampling } from './chat_engine.js';
import { chatLogprobs, completionLogprobs } from './logprobs_format.js';
import { HttpError } from './protocol.js';

export interface CompletionJob {
  kind: 'chat' | 'text';
  modelId: string;
  /** Tokenized, checked prompts (ChatEngine.prepare). */
  prompts: number[][];
  /** Choices per prompt. */
  n: number;
  /** Shared by every choice; choice i of a prompt samples with seed + i (mod 2^53). */
  sampling: Sampling;
  /** Alternatives per position when log-probs are asked for; undefined: none. */
  topLogprobs: number | undefined;
  stream: boolean;
  includeUsage: boolean;
  /** Tokens per generate call of a streamed answer. */
  streamGroupTokens: number;
}

interface Choice {
  /** Place in the answer's `choices`: prompt p's choice i is p·n + i, as OpenAI orders them. */
  index: number;
  promptIds: number[];
  sampling: Sampling;
}

function choicesOf(job: CompletionJob): Choice[] {
  const seedOf = (i: number) => (job.sampling.seed === undefined ? {} : { seed: Number((BigInt(job.sampling.seed) + BigInt(i)) % 2n ** 53n) });
  return job.prompts.flatMap((promptIds, p) =>
    Array.from({ length: job.n }, (_, i) => ({ index: p * job.n + i, promptIds, sampling: { ...job.sampling, ...seedOf(i) } })),
  );
}

function usageOf(job: CompletionJob, completionTokens: number) {
  const promptTokens = job.prompts.reduce((n, p) => n + p.length, 0);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

function failure(err: unknown): HttpError {
  return err instanceof HttpError ? err : new HttpError(500, `generation failed: ${err instanceof Error ? err.message : String(err)}`);
}

/** Answers the job on `res`; returns quietly when the client left (`signal` aborted). */
export async function respond(engine: ChatEngine, job: CompletionJob, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const id = `${job.kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: job.kind === 'chat' ? 'chat.completion' : 'text_completion', created, model: job.modelId };
  if (!job.stream) return respondWhole(engine, job, res, signal, head);
  return respondStreamed(engine, job, res, signal, { ...head, object: job.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion' });
}

async function respondWhole(engine: ChatEngine, job: CompletionJob, res: ServerResponse, signal: AbortSignal, head: object): Promise<void> {
  let answers;
  try {
    answers = await Promise.all(
      choicesOf(job).map(async (c) => {
        const r = await engine.run(c.promptIds, c.sampling, signal);
        const scored = job.topLogprobs === undefined ? undefined : await engine.scoreTokens(c.promptIds, r.ids, job.topLogprobs);
        return { c, r, scored };
      }),
    );
  } catch (err) {
    if (err instanceof EngineAbortedError || signal.aborted) return;
    throw failure(err);
  }
  const choices = answers.map(({ c, r, scored }) =>
    job.kind === 'chat'
      ? {
          index: c.index,
          message: { role: 'assistant', content: r.text, refusal: null },
          logprobs: scored ? chatLogprobs(scored) : null,
          finish_reason: r.finishReason,
        }
      : { index: c.index, text: r.text, logprobs: scored ? completionLogprobs(scored) : null, finish_reason: r.finishReason },
  );
  const text = JSON.stringify({
    ...head,
    choices,
    usage: usageOf(
      job,
      answers.reduce((n, a) => n + a.r.completionTokens, 0),
    ),
  });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function respondStreamed(engine: ChatEngine, job: CompletionJob, res: ServerResponse, signal: AbortSignal, head: object): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (event: object) => {
    if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(event)}\n\n`);
  };
  // With include_usage every chunk carries `usage: null` and an extra last chunk the totals, as OpenAI sends them.
  const usageField = job.includeUsage ? { usage: null } : {};
  const chunk = (index: number, text: string | null, scored: ScoredToken[] | undefined, finish: string | null, textOffset = 0) =>
    send({
      ...head,
      choices: [
        job.kind === 'chat'
          ? { index, delta: text === null ? {} : { content: text }, logprobs: scored ? chatLogprobs(scored) : null, finish_reason: finish }
          : { index, text: text ?? '', logprobs: scored ? completionLogprobs(scored, textOffset) : null, finish_reason: finish },
      ],
      ...usageField,
    });
  // One choice failing ends the others: the answer is then an error event.
  const stop = new AbortController();
  const onClientGone = () => stop.abort();
  signal.addEventListener('abort', onClientGone, { once: true });
  const choices = choicesOf(job);
  if (job.kind === 'chat') {
    for (const c of choices)
      send({ ...head, choices: [{ index: c.index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...usageField });
  }
  let completionTokens = 0;
  let failed: unknown;
  try {
    await Promise.allSettled(
      choices.map(async (c) => {
        const context = [...c.promptIds];
        let textLength = 0;
        try {
          for await (const piece of engine.stream(c.promptIds, c.sampling, stop.signal, job.streamGroupTokens)) {
            const scored = job.topLogprobs !== undefined && piece.ids.length > 0 ? await engine.scoreTokens(context, piece.ids, job.topLogprobs) : undefined;
            context.push(...piece.ids);
            if (piece.text !== '' || scored) chunk(c.index, piece.text, scored, null, textLength);
            textLength += piece.text.length;
            if (piece.finishReason !== undefined) {
              completionTokens += piece.completionTokens ?? 0;
              chunk(c.index, null, undefined, piece.finishReason);
            }
          }
        } catch (err) {
          if (!(err instanceof EngineAbortedError)) failed ??= err;
          stop.abort();
        }
      }),
    );
  } finally {
    signal.removeEventListener('abort', onClientGone);
  }
  if (signal.aborted) return;
  if (failed !== undefined) {
    // The status line is sent; the error goes as an event in OpenAI's error shape (clients raise it).
    send(failure(failed).body());
    res.end();
    return;
  }
  if (job.includeUsage) send({ ...head, choices: [], usage: usageOf(job, completionTokens) });
  res.end('data: [DONE]\n\n');
}
