// The model path through the standalone driver (no Node.js in the loop): fixture check against
// transformers, gradient checkpointing, and the log-prob smoke command.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { driverPath as driver, driverTest } from './helpers/driver.js';

const root = path.resolve(import.meta.dirname, '..');
const fixture = (name: string) => path.join(root, 'test', 'fixtures', 'models', name);

function run(args: string[]) {
  return spawnSync(driver, args, { encoding: 'utf8' });
}

driverTest('rdpo-driver model-check agrees with transformers for every architecture', (t) => {
  for (const name of ['llama', 'llama3', 'mistral', 'qwen2', 'gpt2', 'qwen3', 'phi3', 'phi3-legacy', 'gemma2', 'gemma3', 'gemma3-legacy']) {
    const res = run(['model-check', fixture(name)]);
    t.is(res.status, 0, res.stdout + res.stderr);
    t.regex(res.stdout, /model-check OK/);
  }
});

driverTest('rdpo-driver grad-check: gradient checkpointing recomputes and gives the same gradients', (t) => {
  for (const name of ['llama3', 'mistral', 'gpt2', 'qwen3', 'phi3', 'gemma2', 'gemma3']) {
    const res = run(['grad-check', fixture(name)]);
    t.is(res.status, 0, res.stdout + res.stderr);
    t.regex(res.stdout, /CheckpointFunction/);
    t.regex(res.stdout, /grad-check OK/);
  }
});

driverTest('rdpo-driver logprobs prints per-token log-probs and their sum', (t) => {
  const res = run(['logprobs', fixture('gpt2'), '--tokens', '5,6,7,8']);
  t.is(res.status, 0, res.stderr);
  t.is(res.stdout.match(/-> \d+: log p = -\d/g)?.length, 3);
  t.regex(res.stdout, /sum log p = -[\d.]+ over 3 tokens/);
  const bad = run(['logprobs', fixture('gpt2'), '--tokens', '5,999']);
  t.is(bad.status, 1);
  t.regex(bad.stderr, /token id 999 is outside the vocabulary/);
});
