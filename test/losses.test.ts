// Native preference losses (native/core/train/preference_loss.cpp) against test/fixtures/losses.json,
// which scripts/fixtures/make_loss_fixtures.py computes with TRL's own loss code (and the RDPO
// paper's rationale terms): loss, every metric and d loss / d each policy log-prob sum.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { loadNative } from '../lib/native/load.js';
import { DPO_VARIANTS, LOSS_NAMES } from '../lib/native/loss_catalogue.generated.js';
import type { LossOptionsRaw, NativeTestingHooks, PolicyLogpsRaw, ReferenceLogpsRaw } from '../lib/native/binding.js';

interface FixtureCase {
  name: string;
  options: LossOptionsRaw;
  policy: Record<string, number[]>;
  reference: Record<string, number[]> | null;
  loss: number;
  metrics: Record<string, number>;
  grads: Record<string, number[]>;
  tolerance: number;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/losses.json', import.meta.url), 'utf8')) as { trl: string; cases: FixtureCase[] };
const native = loadNative().testing;
const loose = native as unknown as Record<keyof NativeTestingHooks, (...args: unknown[]) => unknown>;

type FloatArray = typeof Float32Array | typeof Float64Array;

function policyOf(c: FixtureCase, F: FloatArray): PolicyLogpsRaw {
  const out: Record<string, Float32Array | Float64Array | Int32Array> = {};
  for (const [k, v] of Object.entries(c.policy)) out[k] = k.endsWith('Count') ? Int32Array.from(v) : F.from(v);
  return out as unknown as PolicyLogpsRaw;
}

function referenceOf(c: FixtureCase, F: FloatArray): ReferenceLogpsRaw | undefined {
  if (!c.reference) return undefined;
  return { chosenSum: F.from(c.reference.chosenSum ?? []), rejectedSum: F.from(c.reference.rejectedSum ?? []) };
}

// |got − want| <= tol·|want| (+ a floor for values that are exactly zero, like unused gradients).
function near(got: number | undefined, want: number, tol: number): boolean {
  return got !== undefined && Math.abs(got - want) <= tol * Math.abs(want) + 1e-12;
}

function compare(t: import('ava').ExecutionContext, c: FixtureCase, F: FloatArray, tol: number) {
  const r = native.preferenceLoss(c.options, policyOf(c, F), referenceOf(c, F));
  t.true(near(r.loss, c.loss, tol), `loss ${r.loss} vs TRL ${c.loss}`);
  t.deepEqual(Object.keys(r.metrics).sort(), Object.keys(c.metrics).sort(), 'metric names');
  for (const [k, want] of Object.entries(c.metrics)) t.true(near(r.metrics[k], want, tol), `${k}: ${r.metrics[k]} vs ${want}`);
  t.deepEqual(Object.keys(r.grads).sort(), Object.keys(c.grads).sort(), 'gradient names');
  for (const [k, want] of Object.entries(c.grads)) {
    const got = r.grads[k as keyof typeof r.grads];
    t.true(got instanceof F, `${k} gradient comes back as ${F.name}`);
    want.forEach((w, i) => t.true(near(got?.[i], w, tol), `d loss/d ${k}[${i}]: ${got?.[i]} vs ${w}`));
  }
}

test('the fixture covers every loss and DPO variant', (t) => {
  const kinds = new Set(fixture.cases.map((c) => c.options.loss));
  for (const k of LOSS_NAMES) t.true(kinds.has(k), k);
  const variants = new Set(fixture.cases.filter((c) => c.options.loss === 'dpo').map((c) => c.options.dpoVariant ?? 'sigmoid'));
  t.deepEqual([...variants].sort(), [...DPO_VARIANTS].sort());
});

for (const c of fixture.cases) {
  test(`float64 matches TRL ${fixture.trl}: ${c.name}`, (t) => compare(t, c, Float64Array, c.tolerance));
}

// The trainer feeds float32 sums: same inputs (float32-exact), computed in float32.
for (const c of fixture.cases) {
  test(`float32: ${c.name}`, (t) => compare(t, c, Float32Array, 1e-4));
}

test('kinds take their published defaults when options are left out', (t) => {
  const byName = new Map(fixture.cases.map((c) => [c.name, c]));
  // rdpo paper: the paper form's own γ (2); the released form is the default (next test).
  for (const [name, explicitKeys] of [
    ['rdpo paper', ['beta', 'gamma']],
    ['simpo', ['beta', 'simpoMargin']],
  ] as const) {
    const c = byName.get(name);
    if (!c) return t.fail(`fixture case ${name} is missing`);
    const bare = { ...c.options } as Record<string, unknown>;
    for (const k of explicitKeys) delete bare[k];
    const r = native.preferenceLoss(bare as unknown as LossOptionsRaw, policyOf(c, Float64Array), referenceOf(c, Float64Array));
    t.true(near(r.loss, c.loss, 1e-6), `${name} with defaults: ${r.loss} vs ${c.loss}`);
  }
});

test('the two rationale forms differ and the released form at γ 0.1 is the default', (t) => {
  const c = fixture.cases.find((x) => x.name === 'rdpo paper mean');
  if (!c) return t.fail('fixture case "rdpo paper mean" is missing');
  const policy = policyOf(c, Float64Array),
    ref = referenceOf(c, Float64Array);
  const paper = native.preferenceLoss({ loss: 'rdpo', rationaleForm: 'paper' }, policy, ref).loss;
  const logsig = native.preferenceLoss({ loss: 'rdpo', rationaleForm: 'logsigmoid' }, policy, ref).loss;
  t.is(native.preferenceLoss({ loss: 'rdpo' }, policy, ref).loss, logsig);
  t.is(native.preferenceLoss({ loss: 'rdpo', rationaleForm: 'logsigmoid', gamma: 0.1 }, policy, ref).loss, logsig);
  t.not(paper, logsig);
  // rorpo's default is rorpo-simple: the linear form at γ 1.0, on per-token means.
  const r = fixture.cases.find((x) => x.name === 'rorpo paper')!;
  const rp = policyOf(r, Float64Array);
  t.is(
    native.preferenceLoss({ loss: 'rorpo' }, rp).loss,
    native.preferenceLoss({ loss: 'rorpo', rationaleForm: 'paper', gamma: 1, rationaleNorm: 'mean' }, rp).loss,
  );
});

test('mistakes are reported as TypeError/RangeError naming the field', (t) => {
  const c = fixture.cases.find((x) => x.name === 'dpo sigmoid');
  if (!c) return t.fail('fixture case "dpo sigmoid" is missing');
  const policy = policyOf(c, Float64Array),
    ref = referenceOf(c, Float64Array);
  t.throws(() => native.preferenceLoss({ loss: 'dpo' }, policy), { instanceOf: TypeError, message: /reference/ });
  t.throws(() => loose.preferenceLoss({ loss: 'kto' }, policy, ref), { instanceOf: TypeError, message: /unknown loss "kto".*rdpo/ });
  t.throws(() => loose.preferenceLoss({ loss: 'dpo', dpoVariant: 'exo' }, policy, ref), { instanceOf: TypeError, message: /sigmoid, ipo, hinge, robust/ });
  t.throws(() => native.preferenceLoss({ loss: 'rdpo' }, { ...policy, rationaleSum: undefined } as unknown as PolicyLogpsRaw, ref), {
    instanceOf: TypeError,
    message: /rationale_sum/,
  });
  t.throws(() => native.preferenceLoss({ loss: 'dpo', dpoVariant: 'hinge', labelSmoothing: 0.1 }, policy, ref), {
    instanceOf: TypeError,
    message: /label_smoothing/,
  });
  t.throws(() => native.preferenceLoss({ loss: 'dpo', dpoVariant: 'robust', labelSmoothing: 0.5 }, policy, ref), {
    instanceOf: RangeError,
    message: /label_smoothing/,
  });
  t.throws(() => native.preferenceLoss({ loss: 'dpo', beta: 0 }, policy, ref), { instanceOf: RangeError, message: /beta/ });
  t.throws(() => native.preferenceLoss({ loss: 'orpo', sftWeight: 1 }, policy), { instanceOf: TypeError, message: /sft_weight/ });
  t.throws(() => native.preferenceLoss({ loss: 'orpo' }, { ...policy, chosenCount: new Int32Array(policy.chosenSum.length) }), {
    instanceOf: RangeError,
    message: /chosen_count must be >= 1/,
  });
  t.throws(() => native.preferenceLoss({ loss: 'dpo' }, { ...policy, rejectedSum: new Float64Array(2) }, ref), {
    instanceOf: RangeError,
    message: /rejected_sum must be \[6\]/,
  });
  t.throws(() => native.preferenceLoss({ loss: 'dpo' }, { ...policy, chosenSum: Int32Array.from([1]) } as unknown as PolicyLogpsRaw, ref), {
    instanceOf: TypeError,
    message: /policy.chosenSum/,
  });
});
