// Where the tests find data: the shared real files (../shared/data next to the repository, read-only)
// and this repository's own fixtures.
import path from 'node:path';
import { repoRoot } from './cli.js';

export const sharedData = (name: string) => path.join(repoRoot, '..', 'shared', 'data', name);
export const fixture = (...parts: string[]) => path.join(repoRoot, 'test', 'fixtures', ...parts);
