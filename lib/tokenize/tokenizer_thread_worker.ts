// The worker side of tokenizer_thread.ts: loads the tokenizer of one directory and applies its chat
// template to what the main thread sends, so that a long prompt does not stall the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { applyChatTemplate, type ChatTurn, type RenderChatOptions } from './chat_template.js';
import { Tokenizer } from './tokenizer.js';

export interface ThreadRequest {
  id: number;
  turns: ChatTurn[];
  options: RenderChatOptions;
}

export type ThreadReply = { id: number; started: true } | { id: number; ids: Int32Array } | { id: number; error: string };

const port = parentPort!;
const tokenizer = Tokenizer.load((workerData as { dir: string }).dir);

port.on('message', (req: ThreadRequest) => {
  let reply: ThreadReply = { id: req.id, started: true };
  port.postMessage(reply);
  try {
    const ids = Int32Array.from(applyChatTemplate(tokenizer, req.turns, req.options));
    reply = { id: req.id, ids };
    port.postMessage(reply, [ids.buffer as ArrayBuffer]);
  } catch (err) {
    reply = { id: req.id, error: err instanceof Error ? err.message : String(err) };
    port.postMessage(reply);
  }
});
