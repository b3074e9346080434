// `reportTo: tensorboard`: TFRecord-framed Event protobufs under RUN_DIR/tensorboard/. The framing and
// CRC-32C are checked here always; where python3 has the `tensorboard` package, its own reader
// (EventAccumulator) reads a run back equal to metrics.jsonl (at float32, the precision of a
// TensorBoard scalar), also across an abort and a resume.
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import protobuf from 'protobufjs/light.js';
import { crc32c, maskedCrc32c, readTfRecords, tfRecord } from '../lib/train/tfrecord.js';
import { TensorBoardWriter, tensorboardScalars } from '../lib/train/tensorboard_writer.js';
import { reportBackends } from '../lib/train/report_to.js';
import { resolveTrainConfig } from '../lib/train/config.js';
import { train } from '../lib/train/trainer.js';
import type { MetricsRow } from '../lib/train/metrics.js';
import { policyDir, readMetricsRows, trainSandbox } from './helpers/train_fixture.js';

const run = promisify(execFile);
const box = trainSandbox('tensorboard');
test.after.always(() => box.cleanup());

// Checked synchronously: ava wants every test declared before the file's first await.
const probe = spawnSync('python3', ['-c', 'from tensorboard.backend.event_processing import event_accumulator'], { encoding: 'utf8' });
const noTensorBoard =
  probe.status === 0
    ? null
    : `python3 with the tensorboard package is not available (${(probe.error?.message ?? probe.stderr.trim().split('\n').pop() ?? '').slice(0, 120)}); pip install tensorboard`;
/** A test that needs TensorBoard's reader: skipped, with the reason in its title, where it is absent. */
const withTensorBoard = (title: string, fn: Parameters<typeof test>[1]) =>
  noTensorBoard ? test.skip(`${title} (skipped: ${noTensorBoard})`, fn) : test(title, fn);

test('CRC-32C and its mask: the known check values', (t) => {
  t.is(crc32c(Buffer.from('123456789')), 0xe3069283);
  t.is(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  t.is(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  const crc = crc32c(Buffer.from('abc'));
  t.is(maskedCrc32c(Buffer.from('abc')), ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0);
});

test('TFRecord framing: length, masked CRCs, data; a torn last record is dropped, a flipped byte is caught', (t) => {
  const a = tfRecord(Buffer.from('first'));
  const b = tfRecord(Buffer.from('second record'));
  t.is(a.length, 8 + 4 + 5 + 4);
  t.is(a.readBigUInt64LE(0), 5n);
  t.is(a.readUInt32LE(8), maskedCrc32c(a.subarray(0, 8)));
  t.is(a.readUInt32LE(17), maskedCrc32c(Buffer.from('first')));
  const both = Buffer.concat([a, b]);
  t.deepEqual(readTfRecords(both).map(String), ['first', 'second record']);
  t.deepEqual(readTfRecords(both.subarray(0, both.length - 3)).map(String), ['first']);
  const bad = Buffer.from(both);
  bad[14] ^= 1;
  t.throws(() => readTfRecords(bad), { message: /data's CRC does not match/ });
});

test('event files: file_version, a SessionLog START, then one Summary per row with TRL tags', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rdpo-tb-'));
  try {
    const w = new TensorBoardWriter(dir, 3);
    w.write({ step: 4, epoch: 0.5, loss: 0.69, tokens: 10, 'rewards/margins': 0.25, skipped: true } as MetricsRow);
    w.write({ step: 4, epoch: 0.5, loss: 0.7, tokens: 5, eval: true });
    w.close();
    const files = readdirSync(dir);
    t.is(files.length, 1);
    t.regex(files[0]!, /^events\.out\.tfevents\.\d+\..+\.\d+\.3$/);
    const Event = protobuf.Root.fromJSON({
      nested: {
        Event: {
          fields: {
            wallTime: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            fileVersion: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
            sessionLog: { type: 'SessionLog', id: 6 },
          },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: { Value: { fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 } } } },
        },
        SessionLog: { fields: { status: { type: 'int32', id: 1 } } },
      },
    }).lookupType('Event');
    const events = readTfRecords(readFileSync(path.join(dir, files[0]!))).map((r) => Event.toObject(Event.decode(r), { longs: Number }) as Record<string, any>);
    t.is(events[0]!.fileVersion, 'brain.Event:2');
    t.deepEqual([events[1]!.step, events[1]!.sessionLog.status], [4, 1]);
    t.deepEqual(
      events[2]!.summary.value.map((v: { tag: string; simpleValue: number }) => [v.tag, v.simpleValue]),
      [
        ['train/epoch', 0.5],
        ['train/loss', Math.fround(0.69)],
        ['train/tokens', 10],
        ['train/rewards/margins', 0.25],
      ],
    );
    t.is(events[2]!.step, 4);
    t.deepEqual(
      events[3]!.summary.value.map((v: { tag: string }) => v.tag),
      ['eval/epoch', 'eval/loss', 'eval/tokens'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reportTo: none by default, one name or a list, anything else names what is allowed', (t) => {
  const base = { model: 'm', data: 'd' };
  t.deepEqual(reportBackends(resolveTrainConfig(base).reportTo), []);
  t.deepEqual(reportBackends(resolveTrainConfig({ ...base, reportTo: 'tensorboard' }).reportTo), ['tensorboard']);
  t.deepEqual(reportBackends(resolveTrainConfig({ ...base, reportTo: ['none', 'tensorboard'] }).reportTo), ['tensorboard']);
  t.throws(() => resolveTrainConfig({ ...base, reportTo: 'wandb' }), { message: /'reportTo'.*(none, tensorboard|tensorboard)/s });
  t.deepEqual(
    tensorboardScalars({ step: 1, epoch: 1, loss: 2, tokens: 3, 'grad_norm/rationale': 4 }).map((s) => s.tag),
    ['train/epoch', 'train/loss', 'train/tokens', 'train/grad_norm/rationale'],
  );
});

/** Every scalar TensorBoard's EventAccumulator reads from `dir`: tag → [step, value][]. */
async function readWithTensorBoard(dir: string): Promise<Record<string, Array<[number, number]>>> {
  const script =
    'import sys, json\n' +
    'from tensorboard.backend.event_processing import event_accumulator as ea\n' +
    'acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})\n' +
    'acc.Reload()\n' +
    'print(json.dumps({tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}))';
  const { stdout } = await run('python3', ['-c', script, dir]);
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, Array<[number, number]>>;
}

/** What metrics.jsonl says TensorBoard should show: tag → [step, float32 value][]. */
function expectedScalars(rows: MetricsRow[]): Record<string, Array<[number, number]>> {
  const out: Record<string, Array<[number, number]>> = {};
  for (const row of rows) for (const { tag, value } of tensorboardScalars(row)) (out[tag] ??= []).push([row.step, Math.fround(value)]);
  return out;
}

const base = {
  model: policyDir,
  data: box.dataNoRationale,
  loss: 'dpo' as const,
  batchSize: 2,
  lr: 1e-3,
  warmupSteps: 1,
  maxLength: 512,
  evalSize: 2,
  evalEvery: 2,
  reportTo: 'tensorboard' as const,
};

withTensorBoard('a run with reportTo tensorboard reads back in TensorBoard equal to metrics.jsonl, also across a resume', async (t) => {
  const whole = await train({ ...base, maxSteps: 4, out: path.join(box.dir, 'whole') }, { log: () => {} });
  const rows = readMetricsRows(whole.runDir);
  t.true(rows.some((r) => r.eval) && rows.some((r) => !r.eval));
  const seen = await readWithTensorBoard(path.join(whole.runDir, 'tensorboard'));
  t.true('train/loss' in seen && 'train/rewards/margins' in seen && 'eval/loss' in seen && 'train/learning_rate' in seen, Object.keys(seen).join(', '));
  t.deepEqual(seen, expectedScalars(rows));

  // Aborted after step 3 (a checkpoint at 3), then resumed: a second event file; TensorBoard drops
  // nothing that metrics.jsonl keeps and shows no step twice.
  const controller = new AbortController();
  const out = path.join(box.dir, 'split');
  await train({ ...base, maxSteps: 4, out }, { log: () => {}, signal: controller.signal, onStep: (r) => void (r.step === 3 && controller.abort()) });
  await train({ resume: out } as Parameters<typeof train>[0], { log: () => {} });
  t.is(readdirSync(path.join(out, 'tensorboard')).length, 2);
  const resumedRows = readMetricsRows(out);
  t.deepEqual(
    resumedRows.filter((r) => !r.eval).map((r) => r.step),
    [1, 2, 3, 4],
  );
  t.deepEqual(await readWithTensorBoard(path.join(out, 'tensorboard')), expectedScalars(resumedRows));
});
