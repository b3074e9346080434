import { runDemoJob, DEMO_SCHEDULE, writeSeedPairs } from './lib/demo/demo_jobs.js';
const [dir, kind, pairs, sft, over] = [process.argv[2]!, process.argv[3] as 'dpo' | 'rdpo', Number(process.argv[4]), process.argv[5]!, JSON.parse(process.argv[6] ?? '{}')];
writeSeedPairs('/tmp/pairs-seed1.jsonl', 1, 600);
const r = await runDemoJob({ kind, seed: 1, pairs, dir, sftModel: sft, pairsFile: '/tmp/pairs-seed1.jsonl', schedule: { ...DEMO_SCHEDULE, ...over } });
const m = r.metrics;
console.log(kind, pairs, JSON.stringify(over), 'acc', r.accuracy, 'chars', r.meanChars.toFixed(1), 'filler', r.fillerRate, 'cue', r.cueReversedAccuracy, 's', r.seconds.toFixed(0), 'margins', m.filter((_, i) => i % 15 === 14).map((x) => `${(x['rewards/margins'] as number).toFixed(2)}/${(x['logps/chosen'] as number).toFixed(1)}`).join(' '));
