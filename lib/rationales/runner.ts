// Moved to lib/jobs/runner.ts; kept until lib/eval/run_eval.ts imports it from there.
export * from '../jobs/runner.js';
