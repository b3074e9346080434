import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { dtypeChoices, WEIGHT_DTYPES, weightDtypeOption } from '../dtype_option.js';
import { ChatEngine } from '../../serve/chat_engine.js';
import { startServer } from '../../serve/server.js';
import { onTerminationSignal } from '../../util/termination_signals.js';

function int(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer in [${min}, ${max}] (got "${value}")`);
    return n;
  };
}

interface ServeOptions {
  model: string;
  modelName?: string;
  host: string;
  port: number;
  dtype?: string;
  device?: string;
  adapter?: string;
  maxBatch: number;
  batchWindowMs: number;
  defaultMaxTokens: number;
  streamGroupTokens: number;
  maxPromptBytes: number;
  tokenizeTimeout: number;
  bodyTimeout: number;
  apiKeyEnv?: string;
  allowedHost?: string[];
}

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('serve a local model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models, /health)');
  addServeOptions(cmd).action(serveAction);
}

function addServeOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--model <dir|org/name[@rev]>', 'model directory')
    .option('--model-name <name>', 'the name clients use (default: the directory name)')
    .option('--host <host>', 'address to bind (0.0.0.0 exposes it to the network)', '127.0.0.1')
    .option('--port <port>', 'port (0: any free one)', int('--port', 0, 65535), 8000)
    .option('--dtype <dtype>', `weight dtype (storage) the model is loaded in: ${dtypeChoices(WEIGHT_DTYPES)} (default: float32)`, weightDtypeOption)
    .option('--device <device>', 'cpu, cuda, cuda:1, mps')
    .option('--adapter <dir>', 'serve --model with this LoRA adapter (PEFT format) on it')
    .option('--max-batch <n>', 'most requests per batched generate call', int('--max-batch', 1), 8)
    .option('--batch-window-ms <ms>', 'how long a first request waits for others to batch with', int('--batch-window-ms', 0, 10_000), 5)
    .option(
      '--stream-group-tokens <n>',
      'tokens per generate call of a streamed answer, each sent as one chunk (smaller: earlier chunks, more recomputation)',
      int('--stream-group-tokens', 1, 4096),
      4,
    )
    .option('--default-max-tokens <n>', 'max_tokens when a request gives none', int('--default-max-tokens', 1), 512)
    .option('--max-prompt-bytes <n>', 'most bytes of message text per request, checked before tokenizing', int('--max-prompt-bytes', 1), 2 ** 20)
    .option(
      '--tokenize-timeout <seconds>',
      'most seconds one request may spend in the chat template and tokenizer (then 400, and the tokenizer thread restarts)',
      int('--tokenize-timeout', 1, 86_400),
      60,
    )
    .option(
      '--body-timeout <seconds>',
      'most seconds a client may take to send a request body (then 408 and the connection is closed)',
      int('--body-timeout', 1, 86_400),
      30,
    )
    .option('--api-key-env <name>', 'require "Authorization: Bearer <key>" on /v1, the key read from this environment variable')
    .option('--allowed-host <name...>', 'Host header names served (default: loopback names when bound to loopback, else any)');
}

async function serveAction(o: ServeOptions): Promise<void> {
  // The key comes from the environment, never the command line (which `ps` shows to everyone).
  let apiKey: string | undefined;
  if (o.apiKeyEnv !== undefined) {
    apiKey = process.env[o.apiKeyEnv];
    if (!apiKey) throw new UsageError(`--api-key-env ${o.apiKeyEnv}: that environment variable is not set or empty`);
  }
  const { TextGenerator } = await import('../../inference/text_generator.js');
  const model = await TextGenerator.load(o.model, {
    ...(o.dtype !== undefined ? { dtype: o.dtype } : {}),
    ...(o.device !== undefined ? { device: o.device } : {}),
    ...(o.adapter !== undefined ? { adapter: o.adapter } : {}),
  });
  const engine = new ChatEngine(model, {
    maxBatch: o.maxBatch,
    windowMs: o.batchWindowMs,
    maxPromptBytes: o.maxPromptBytes,
    tokenizeTimeoutMs: o.tokenizeTimeout * 1000,
  });
  const modelId = o.modelName ?? basename(resolve(o.model));
  const server = await startServer({
    engine,
    modelId,
    host: o.host,
    port: o.port,
    defaultMaxTokens: o.defaultMaxTokens,
    bodyTimeoutMs: o.bodyTimeout * 1000,
    streamGroupTokens: o.streamGroupTokens,
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(o.allowedHost !== undefined ? { allowedHosts: o.allowedHost.map((h) => h.toLowerCase()) } : {}),
    log: (line) => process.stderr.write(line + '\n'),
  }).catch(async (err: NodeJS.ErrnoException) => {
    await engine.close();
    if (err.code === 'EADDRINUSE') throw new UsageError(`${o.host}:${o.port} is already in use; pick another --port (0: any free one)`);
    throw err;
  });
  // The one line on stdout: scripts wait for it.
  console.log(`serving ${modelId} at ${server.url}/v1 (max batch ${o.maxBatch})`);
  await closeOnStopSignal(server);
}

/** Serves until SIGINT or SIGTERM, then closes the server. */
function closeOnStopSignal(server: { close(): Promise<void> }): Promise<void> {
  return new Promise<void>((done) => {
    const off = onTerminationSignal((signal) => {
      process.stderr.write(`${signal}: closing the server\n`);
      off();
      void server.close().then(done);
    });
  });
}
