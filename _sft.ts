import { runDemoJob, DEMO_SCHEDULE } from './lib/demo/demo_jobs.js';
const [dir, over] = [process.argv[2]!, JSON.parse(process.argv[3]!)];
const r = await runDemoJob({ kind: 'sft', seed: 1, dir, schedule: { ...DEMO_SCHEDULE, ...over } });
const m = r.metrics;
console.log(JSON.stringify(over), 'acc', r.accuracy, 'chars', r.meanChars.toFixed(1), 'filler', r.fillerRate, 's', r.seconds.toFixed(0), 'loss', m.filter((_, i) => i % 100 === 99).map((x) => x.loss.toFixed(3)).join(' '));
