// Per-environment addon state: the main thread and worker threads each load the addon
// (Init runs once per environment) and use it at the same time; each environment's classes are
// its own, so a model made in one is a NativeModel there, and a worker's exit leaves the main
// thread's addon working. With the classes in statics, the last environment to load the addon
// took them over: the main thread's createTrainer then refused its own model, and loadModel after
// the worker's exit constructed through a dead reference.
import test from 'ava';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { addonPath, loadNative } from '../lib/native/load.js';

const MODEL_DIR = path.join(import.meta.dirname, 'fixtures', 'models', 'llama');
const TOKENS = [1, 5, 9, 14, 22, 7, 3];

// CommonJS, evaluated in the worker: the same calls the main thread makes, then a clean exit.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.addon);
(async () => {
  const model = await addon.loadModel(workerData.modelDir, { dtype: 'float32', device: 'cpu' });
  const tokens = Int32Array.from(workerData.tokens);
  const logits = await model.logits(tokens, Int32Array.from([tokens.length]));
  const trainer = await addon.createTrainer(model, { loss: 'sft' });
  const tensor = addon.testing.arange(5);
  parentPort.postMessage({
    logits: Array.from(logits), isModel: model instanceof addon.NativeModel, numParameters: trainer.numParameters, arangeSum: tensor.sum(),
  });
  model.dispose();
})().catch((err) => parentPort.postMessage({ error: String((err && err.stack) || err) }));
`;

interface WorkerResult {
  logits: number[];
  isModel: boolean;
  numParameters: number;
  arangeSum: number;
  error?: string;
}

function runWorker(): Promise<{ result: WorkerResult; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { addon: addonPath(), modelDir: MODEL_DIR, tokens: TOKENS } });
    let result: WorkerResult | undefined;
    worker.on('message', (m: WorkerResult) => (result = m));
    worker.on('error', reject);
    worker.on('exit', (exitCode) => (result ? resolve({ result, exitCode }) : reject(new Error(`worker exited (${exitCode}) without a result`))));
  });
}

test('two worker threads and the main thread use the addon at once; the main thread keeps working after they exit', async (t) => {
  const native = loadNative();
  const tokens = Int32Array.from(TOKENS),
    lengths = Int32Array.from([TOKENS.length]);
  const model = await native.loadModel(MODEL_DIR, { dtype: 'float32', device: 'cpu' });
  t.teardown(() => model.dispose());

  const [a, b, mainLogits] = await Promise.all([runWorker(), runWorker(), model.logits(tokens, lengths)]);
  const want = Array.from(mainLogits);
  for (const { result, exitCode } of [a, b]) {
    t.is(result.error, undefined, result.error);
    t.is(exitCode, 0);
    t.true(result.isModel, "a worker's model is a NativeModel of the worker's own class");
    t.true(result.numParameters > 0);
    t.is(result.arangeSum, 10);
    t.deepEqual(result.logits, want, 'each environment computes the same logits');
  }

  // After both workers have exited and their environments are gone:
  t.true(model instanceof native.NativeModel);
  const trainer = await native.createTrainer(model, { loss: 'sft' } as never);
  t.is(trainer.numParameters, a.result.numParameters);
  const again = await native.loadModel(MODEL_DIR, { dtype: 'float32', device: 'cpu' });
  t.teardown(() => again.dispose());
  t.deepEqual(Array.from(await again.logits(tokens, lengths)), want);
  t.is(native.testing.arange(5).sum(), 10);

  // And once more with a worker started after the first two are gone.
  const c = await runWorker();
  t.is(c.result.error, undefined, c.result.error);
  t.deepEqual(c.result.logits, want);
  t.deepEqual(Array.from(await model.logits(tokens, lengths)), want);
});
