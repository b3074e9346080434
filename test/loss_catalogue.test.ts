// One loss catalogue: the core's catalogue (native/core/train/preference_loss.cpp) is what the
// addon exports, what lib/native/loss_catalogue.generated.ts holds, and what the config, the CLI,
// the trainer and both native entry points (createTrainer, preferenceLoss) go by.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CausalLM } from '../lib/index.js';
import { loadNative } from '../lib/native/load.js';
import { LOSS_CATALOGUE, RATIONALE_FORMS, type LossName } from '../lib/native/loss_catalogue.generated.js';
import type { LossOptionsRaw, NativeTrainerOptions } from '../lib/native/binding.js';
import { lossDefaults, nativeTrainerOptions, resolveTrainConfig } from '../lib/train/config.js';
import { GENERATED_FILE, renderLossCatalogue } from '../scripts/generate-loss-catalogue.mjs';
import { runCli } from './helpers/cli.js';

const native = loadNative();
const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'models');

test('the generated TypeScript catalogue is exactly what the addon exports (rerun scripts/generate-loss-catalogue.mjs)', (t) => {
  const fromAddon = native.lossCatalogue();
  t.deepEqual(JSON.parse(JSON.stringify(LOSS_CATALOGUE)), fromAddon);
  t.is(readFileSync(GENERATED_FILE, 'utf8'), renderLossCatalogue(fromAddon), 'lib/native/loss_catalogue.generated.ts is stale');
});

test('every loss names a source for its formula and needs what its name says', (t) => {
  for (const l of LOSS_CATALOGUE.losses) {
    t.true(l.citation.length > 10 && l.summary.length > 10, l.name);
    if (l.needsReference) t.true(l.needsRejected, `${l.name}: a reference margin needs a rejected completion`);
    t.is(l.needsRationale, l.options.includes('gamma'), `${l.name}: γ is read exactly when a rationale is`);
  }
});

// Same inputs for every loss: 3 pairs with chosen, rejected, rationale and reference sums.
const policy = {
  chosenSum: Float64Array.from([-12.5, -30.25, -7.0]),
  chosenCount: Int32Array.from([5, 11, 3]),
  rejectedSum: Float64Array.from([-14.0, -28.5, -9.75]),
  rejectedCount: Int32Array.from([6, 10, 4]),
  rationaleSum: Float64Array.from([-20.0, -15.5, -40.0]),
  rationaleCount: Int32Array.from([8, 7, 16]),
};
const reference = { chosenSum: Float64Array.from([-13.0, -29.0, -7.5]), rejectedSum: Float64Array.from([-13.5, -29.5, -9.0]) };

test("the config's defaults and the addon's are one set, for every loss and rationale form (given or the loss's own)", (t) => {
  for (const l of LOSS_CATALOGUE.losses) {
    for (const form of [undefined, ...RATIONALE_FORMS]) {
      const config = resolveTrainConfig({ model: 'm', data: 'd', loss: l.name, ...(form ? { rationaleForm: form } : {}) });
      const d = lossDefaults(l.name, form);
      const wantGamma = form === undefined ? l.defaults.gamma : form === 'logsigmoid' ? l.gammaLogsigmoid : l.gammaPaper;
      t.is(config.gamma, wantGamma, `${l.name}/${form ?? 'default'}: γ`);
      t.is(config.rationaleForm, form ?? l.defaults.rationaleForm);
      t.is(config.beta, l.defaults.beta);
      t.deepEqual(
        { beta: config.beta, gamma: config.gamma, rationaleForm: config.rationaleForm, rationaleNorm: config.rationaleNorm, simpoMargin: config.simpoMargin },
        d,
      );
      // What the trainer sends (every option explicit) and the addon's own defaults compute the same loss.
      const explicit = nativeTrainerOptions(config, 'float32');
      const bare: LossOptionsRaw = { loss: l.name, ...(form ? { rationaleForm: form } : {}) };
      const ref = l.needsReference ? reference : undefined;
      const a = native.testing.preferenceLoss(explicit, policy, ref).loss;
      const b = native.testing.preferenceLoss(bare, policy, ref).loss;
      t.true(Number.isFinite(a), `${l.name}/${form ?? 'default'}: ${a}`);
      t.is(a, b, `${l.name}/${form ?? 'default'}: explicit config defaults ${a} vs the addon's ${b}`);
    }
  }
});

test('createTrainer and preferenceLoss read loss options with one parser: same names, same messages', async (t) => {
  const model = await CausalLM.load(path.join(FIXTURES, 'llama'));
  t.teardown(() => model.dispose());
  const loose = native as unknown as {
    createTrainer: (m: unknown, o: unknown) => Promise<unknown>;
    testing: { preferenceLoss: (o: unknown, p: unknown, r?: unknown) => unknown };
  };
  const bad: Array<[Record<string, unknown>, RegExp, typeof TypeError]> = [
    [{ loss: 'kto' }, /unknown loss "kto"; expected one of: sft, dpo, rdpo, orpo, rorpo, simpo, rsimpo, rationale-only/, TypeError],
    [{ loss: 'dpo', dpoVariant: 'exo' }, /unknown DPO variant "exo"; expected one of: sigmoid, ipo, hinge, robust/, TypeError],
    [{ loss: 'rdpo', rationaleNorm: 'max' }, /unknown rationale norm "max"/, TypeError],
    [{ loss: 'dpo', beta: 'high' }, /option 'beta' must be a number/, TypeError],
    [{}, /option 'loss' is required: one of sft, dpo/, TypeError],
  ];
  for (const [options, message, instanceOf] of bad) {
    const fromLoss = t.throws(() => loose.testing.preferenceLoss(options, policy, reference), { instanceOf, message });
    const fromTrainer = t.throws(() => loose.createTrainer(model.nativeHandle, options), { instanceOf, message });
    t.is(fromTrainer?.message, fromLoss?.message);
  }
  // The trainer takes the loss's catalogue defaults for what is left out, as preferenceLoss does.
  const trainer = await native.createTrainer(model.nativeHandle, { loss: 'rorpo', rationaleForm: 'logsigmoid' } as NativeTrainerOptions);
  t.true(trainer.numParameters > 0);
});

test("the train command's help lists the catalogue's losses", async (t) => {
  const r = await runCli(['train', '--help']);
  const help = r.stdout.replace(/\s+/g, ' ');
  t.true(help.includes(LOSS_CATALOGUE.losses.map((l) => l.name as LossName).join(' | ')), help);
  t.true(help.includes(LOSS_CATALOGUE.dpoVariants.join(' | ')), help);
});
