import { runDemo } from './lib/demo/run_demo.js';
const out = process.argv[2]!;
const schedule = JSON.parse(process.argv[3] ?? '{}');
const r = await runDemo({ outDir: out, schedule });
console.log(JSON.stringify(r.summary.models, (k, v) => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v)));
console.log(JSON.stringify(r.summary.efficiency.map((e) => [e.loss, e.pairs, e.accuracy.toFixed(3), e.length.toFixed(1)])));
console.log('seconds', r.seconds);
