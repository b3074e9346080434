// Moved to lib/jobs/journal.ts; kept until lib/eval/generate.ts imports it from there.
export * from '../jobs/journal.js';
