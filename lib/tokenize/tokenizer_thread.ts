// A model directory's chat template + tokenizer run on a worker thread. A server tokenizes a large
// prompt here so that its event loop stays free (a 1 MiB prompt takes seconds to render and encode;
// /health and every other request would wait that long). Started on first use; one thread per
// directory, so requests are tokenized one after another, in order, while the main thread goes on.
import { Worker } from 'node:worker_threads';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatTurn, RenderChatOptions } from './chat_template.js';
import type { ThreadReply, ThreadRequest } from './tokenizer_thread_worker.js';

const here = fileURLToPath(import.meta.url);
const workerUrl = new URL(`./tokenizer_thread_worker${extname(here)}`, import.meta.url);

function spawnWorker(dir: string): Worker {
  const workerData = { dir };
  if (extname(here) !== '.ts') return new Worker(workerUrl, { workerData });
  // Run from the TypeScript sources (tests, tsx): Node 20 does not apply the parent's --import=tsx
  // hooks to a worker's entry, so the worker registers tsx before importing the .ts file.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `import(${tsx}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}

/** A tokenization that ran past its deadline; the thread that ran it was stopped. */
export class TokenizeTimeoutError extends Error {
  override name = 'TokenizeTimeoutError';
}

interface Job {
  turns: ChatTurn[];
  options: RenderChatOptions;
  timeoutMs: number | undefined;
  resolve: (ids: number[]) => void;
  reject: (e: Error) => void;
}

export class TokenizerThread {
  private worker: Worker | undefined;
  private next = 0;
  private readonly queue: Job[] = [];
  /** The job the worker has; one at a time, so that a deadline times that job's work alone. */
  private current: { id: number; job: Job; timer?: NodeJS.Timeout } | undefined;

  constructor(private readonly dir: string) {}

  /**
   * applyChatTemplate(tokenizer, turns, options) on the worker; the same ids, off this thread. With
   * `timeoutMs`, work that runs longer (a catastrophically backtracking tokenizer regex, which
   * nothing can interrupt from inside) is abandoned: the thread is terminated, this call rejects
   * with TokenizeTimeoutError, and the next call gets a fresh thread.
   */
  applyChatTemplate(turns: readonly ChatTurn[], options: RenderChatOptions = {}, timeoutMs?: number): Promise<number[]> {
    return new Promise<number[]>((resolve, reject) => {
      this.queue.push({ turns: turns.map((t) => ({ role: t.role, content: t.content })), options, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.current || this.queue.length === 0) return;
    const job = this.queue.shift()!;
    const worker = this.start();
    const id = this.next++;
    this.current = { id, job };
    worker.ref();
    const req: ThreadRequest = { id, turns: job.turns, options: job.options };
    worker.postMessage(req);
  }

  private onReply(worker: Worker, reply: ThreadReply): void {
    const c = this.current;
    if (worker !== this.worker || !c || c.id !== reply.id) return;
    if ('started' in reply) {
      // The clock starts when the worker starts this job (not while it loads or does the one before).
      if (c.job.timeoutMs !== undefined) c.timer = setTimeout(() => this.expire(c.id), c.job.timeoutMs).unref();
      return;
    }
    clearTimeout(c.timer);
    this.current = undefined;
    if ('error' in reply) c.job.reject(new Error(reply.error));
    else c.job.resolve(Array.from(reply.ids));
    if (this.queue.length === 0) worker.unref();
    this.pump();
  }

  private expire(id: number): void {
    const c = this.current;
    if (!c || c.id !== id) return;
    const worker = this.worker;
    this.worker = undefined;
    this.current = undefined;
    void worker?.terminate();
    const s = c.job.timeoutMs! / 1000;
    c.job.reject(
      new TokenizeTimeoutError(
        `tokenizing the prompt took longer than ${s < 10 ? s.toFixed(1) : Math.round(s)} s (the tokenizer of ${this.dir}) and was stopped; ` +
          'a tokenizer.json regex that backtracks catastrophically on this text does this',
      ),
    );
    this.pump();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = spawnWorker(this.dir);
    // An idle thread must not keep the process alive; one with work in hand does (ref() in pump).
    worker.unref();
    worker.on('message', (reply: ThreadReply) => this.onReply(worker, reply));
    const fail = (err: Error) => {
      if (this.worker !== worker) return; // stopped on purpose (expire, close)
      this.worker = undefined;
      const jobs = [...(this.current ? [this.current.job] : []), ...this.queue.splice(0)];
      if (this.current) clearTimeout(this.current.timer);
      this.current = undefined;
      for (const job of jobs) job.reject(err);
    };
    worker.on('error', (err) => fail(new Error(`the tokenizer thread for ${this.dir} failed: ${err.message}`)));
    worker.on('exit', (code) => fail(new Error(`the tokenizer thread for ${this.dir} exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (this.current) clearTimeout(this.current.timer);
    const jobs = [...(this.current ? [this.current.job] : []), ...this.queue.splice(0)];
    this.current = undefined;
    for (const job of jobs) job.reject(new Error(`the tokenizer thread for ${this.dir} was closed`));
    if (worker) await worker.terminate();
  }
}
