// `--resume` continues a run on the data it started with: a data file edited or shortened since
// is refused (the run records its pair ids and the file's sha256), unless the change is accepted.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { train } from '../lib/train/trainer.js';
import { trainSandbox } from './helpers/train_fixture.js';
import { policyDir } from './helpers/train_fixture.js';

const box = trainSandbox('resume-data');
test.after.always(() => box.cleanup());

test('a resume refuses a data file with a removed row or an edited one; --accept-data-change continues with a warning', async (t) => {
  const out = path.join(box.dir, 'run');
  const quiet = { log: () => {} };
  await train({ model: policyDir, data: box.dataNoRationale, loss: 'dpo', batchSize: 2, maxSteps: 1, saveEvery: 1, maxLength: 512, out }, quiet);
  const recorded = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as {
    data: { identity: { pairIds: string; file: string; trainPairs: number } };
  };
  t.regex(recorded.data.identity.pairIds, /^[0-9a-f]{64}$/);
  t.regex(recorded.data.identity.file, /^[0-9a-f]{64}$/);
  const original = readFileSync(box.dataNoRationale, 'utf8');
  const lines = original.trim().split('\n');

  writeFileSync(box.dataNoRationale, lines.slice(1).join('\n') + '\n');
  const removed = await t.throwsAsync(train({ resume: out, maxSteps: 2 } as Parameters<typeof train>[0], quiet));
  t.regex(
    removed!.message,
    /--resume .*: the data changed since the run started: its pairs differ \(recorded: 8 training \+ 0 held-out pairs; now 7 \+ 0.*--accept-data-change/,
  );

  const edited = JSON.parse(lines[0]!) as Record<string, string>;
  writeFileSync(box.dataNoRationale, [JSON.stringify({ ...edited, chosen: edited.chosen + ' (edited)' }), ...lines.slice(1)].join('\n') + '\n');
  await t.throwsAsync(train({ resume: out, maxSteps: 2 } as Parameters<typeof train>[0], quiet), { message: /the data changed since the run started/ });

  const logs: string[] = [];
  const r = await train({ resume: out, maxSteps: 2, acceptDataChange: true } as Parameters<typeof train>[0], { log: (l) => logs.push(l) });
  t.is(r.steps, 2);
  t.regex(logs.join('\n'), /warning: --resume .*: the data changed since the run started .*--accept-data-change/);
  writeFileSync(box.dataNoRationale, original);
});
