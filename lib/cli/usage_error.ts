// Moved to lib/errors.ts; kept until lib/eval/generate.ts and lib/eval/run_eval.ts import it from there.
export { UsageError } from '../errors.js';
