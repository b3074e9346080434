// The standalone driver, build/rdpo-driver, is built on request (npm run build:driver), not by the
// install; the test set-up (npm's pretest) builds it wherever build/ is a CMake build. Where it is
// still missing (a node-gyp or prebuilt addon), the driver's tests skip and say why.
import test from 'ava';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './cli.js';

export const driverPath = path.join(repoRoot, 'build', 'rdpo-driver');
export const driverBuilt = existsSync(driverPath);

/** `test` when the driver is built, else `test.skip` with the reason printed once per file. */
export const driverTest = driverBuilt ? test : test.skip;
if (!driverBuilt) {
  console.log(`skipping the driver's tests: ${driverPath} is not built (npm run build:driver builds it; npm test's set-up does where build/ is a CMake build)`);
}
