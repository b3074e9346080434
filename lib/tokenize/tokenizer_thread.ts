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

export class TokenizerThread {
  private worker: Worker | undefined;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (ids: number[]) => void; reject: (e: Error) => void }>();

  constructor(private readonly dir: string) {}

  /** applyChatTemplate(tokenizer, turns, options) on the worker; the same ids, off this thread. */
  applyChatTemplate(turns: readonly ChatTurn[], options: RenderChatOptions = {}): Promise<number[]> {
    const worker = this.start();
    const id = this.next++;
    return new Promise<number[]>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) worker.ref();
      const req: ThreadRequest = { id, turns: turns.map((t) => ({ role: t.role, content: t.content })), options };
      worker.postMessage(req);
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = spawnWorker(this.dir);
    // An idle thread must not keep the process alive; one with work in hand does (ref() above).
    worker.unref();
    worker.on('message', (reply: ThreadReply) => {
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if ('error' in reply) w.reject(new Error(reply.error));
      else w.resolve(Array.from(reply.ids));
    });
    const fail = (err: Error) => {
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
      if (this.worker === worker) this.worker = undefined;
    };
    worker.on('error', (err) => fail(new Error(`the tokenizer thread for ${this.dir} failed: ${err.message}`)));
    worker.on('exit', (code) => fail(new Error(`the tokenizer thread for ${this.dir} exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }
}
