// `reportTo: tensorboard`: RUN_DIR/tensorboard/events.out.tfevents.* with every metrics.jsonl row as
// scalars under TRL's names (transformers' TensorBoardCallback: `train/loss`, `train/rewards/margins`,
// `eval/loss`, …), so `tensorboard --logdir RUN_DIR` shows the run as it trains.
// Scalars are `simple_value`s (float32), as torch's SummaryWriter.add_scalar writes them for TRL;
// metrics.jsonl keeps the float64 values. The Event/Summary messages are encoded with protobufjs from
// the fields of tensorboard/compat/proto/event.proto and summary.proto; the framing is tfrecord.ts.
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs/light.js';
import type { MetricsRow } from './metrics.js';
import { tfRecord } from './tfrecord.js';

// Field numbers as in tensorboard/compat/proto/{event,summary}.proto (only the fields written here).
const root = protobuf.Root.fromJSON({
  nested: {
    tensorboard: {
      nested: {
        Event: {
          oneofs: { what: { oneof: ['fileVersion', 'summary', 'sessionLog'] } },
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
          nested: {
            Value: {
              oneofs: { value: { oneof: ['simpleValue'] } },
              fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 } },
            },
          },
        },
        SessionLog: {
          fields: { status: { type: 'SessionStatus', id: 1 }, checkpointPath: { type: 'string', id: 2 }, msg: { type: 'string', id: 3 } },
          nested: { SessionStatus: { values: { STATUS_UNSPECIFIED: 0, START: 1, STOP: 2, CHECKPOINT: 3 } } },
        },
      },
    },
  },
});
const Event = root.lookupType('tensorboard.Event');

/** Metrics.jsonl keys that are not scalars of the run. */
const NOT_SCALARS = new Set(['step', 'eval']);

/** A row's scalars under TRL's tags: `train/<key>`, or `eval/<key>` for an evaluation row. */
export function tensorboardScalars(row: MetricsRow): Array<{ tag: string; value: number }> {
  const prefix = row.eval ? 'eval' : 'train';
  const out: Array<{ tag: string; value: number }> = [];
  for (const [key, value] of Object.entries(row)) {
    if (NOT_SCALARS.has(key) || typeof value !== 'number') continue;
    out.push({ tag: `${prefix}/${key}`, value });
  }
  return out;
}

export class TensorBoardWriter {
  readonly file: string;
  private fd: number;

  /**
   * Opens a new event file in `dir`. `startStep`: the step the run continues from (0 for a new run);
   * a SessionLog START at startStep + 1 makes TensorBoard drop what an earlier file logged from that
   * step on (a resumed run redoes those steps, as metrics.jsonl drops their rows).
   */
  constructor(dir: string, startStep = 0) {
    mkdirSync(dir, { recursive: true });
    const seconds = Math.floor(Date.now() / 1000);
    this.file = path.join(dir, `events.out.tfevents.${seconds}.${hostname()}.${process.pid}.${startStep}`);
    this.fd = openSync(this.file, 'a');
    this.event({ wallTime: Date.now() / 1000, step: 0, fileVersion: 'brain.Event:2' });
    this.event({ wallTime: Date.now() / 1000, step: startStep + 1, sessionLog: { status: 1 } });
  }

  /** One event with every scalar of the row, at the row's step. */
  write(row: MetricsRow): void {
    const value = tensorboardScalars(row).map(({ tag, value }) => ({ tag, simpleValue: value }));
    if (value.length > 0) this.event({ wallTime: Date.now() / 1000, step: row.step, summary: { value } });
  }

  close(): void {
    if (this.fd < 0) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }

  private event(fields: Record<string, unknown>): void {
    const bytes = Event.encode(Event.fromObject(fields)).finish();
    writeSync(this.fd, tfRecord(bytes));
  }
}
