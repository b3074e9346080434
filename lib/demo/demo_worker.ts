// Child-process entry of one demo job: `node demo_worker.js JOB.json` (run_demo.ts spawns it).
// Exit code 0 once DIR/result.json is written; otherwise the error goes to stderr.
import { readFileSync } from 'node:fs';
import { runDemoJob, type DemoJob } from './demo_jobs.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: demo_worker JOB.json\n');
  process.exit(2);
}
const job = JSON.parse(readFileSync(file, 'utf8')) as DemoJob;
try {
  await runDemoJob(job, Number(process.env.RDPO_DEMO_THREADS) || 1);
} catch (err) {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
