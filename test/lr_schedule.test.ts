// The learning-rate schedule (lib/train/schedule.ts): transformers' warm-up and the RDPO authors' one.
import test from 'ava';
import { learningRateAt } from '../lib/train/schedule.js';

const at = (step: number, extra: object = {}) => learningRateAt(step, { lr: 1, warmupSteps: 4, totalSteps: 10, schedule: 'constant', ...extra });

test('hf warm-up: s/W, so the first step runs at lr 0', (t) => {
  t.deepEqual(
    [0, 1, 2, 3, 4, 9].map((s) => at(s)),
    [0, 0.25, 0.5, 0.75, 1, 1],
  );
});

test("halos warm-up: min(1, (s+1)/(W+1)), as the authors' LambdaLR (trainers.py:343), then constant", (t) => {
  t.deepEqual(
    [0, 1, 2, 3, 4, 9].map((s) => at(s, { warmupForm: 'halos' })),
    [0.2, 0.4, 0.6, 0.8, 1, 1],
  );
  for (let s = 0; s < 10; s++) t.is(at(s, { warmupForm: 'halos' }), Math.min(1, (s + 1) / 5));
});

test('decay after either warm-up: cosine reaches 0 at the last step', (t) => {
  t.is(learningRateAt(10, { lr: 1, warmupSteps: 4, totalSteps: 10, schedule: 'cosine', warmupForm: 'halos' }), 0);
  t.is(learningRateAt(4, { lr: 1, warmupSteps: 4, totalSteps: 10, schedule: 'linear' }), 1);
});
