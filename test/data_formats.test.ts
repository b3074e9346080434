// Every format on the real shared files: counts, and spot-checked rows against the source text.
import test from 'ava';
import { loadPreferences, PreferencePairSchema, type PreferencePair } from '../lib/index.js';
import { relabelReason } from '../lib/data/formats/pandalm.js';
import { fixture, sharedData, dataTest } from './helpers/data_paths.js';

const messages = (p: PreferencePair) => {
  if (typeof p.prompt === 'string') throw new Error(`prompt of ${p.id} is text, expected messages`);
  return p.prompt;
};

dataTest('orca_dpo_pairs-284.parquet')('orca (Parquet): 284 rows, system kept apart, text as in the source', async (t) => {
  const { pairs, report } = await loadPreferences(sharedData('orca_dpo_pairs-284.parquet'));
  t.like(report, { format: 'orca', container: 'parquet', gzip: false, rows: 284, valid: 284, invalid: 0, duplicates: 0, pairs: 284, withRationale: 0 });
  const first = pairs[0]!;
  t.is(first.prompt, 'MM. Georges Colombier, Samad Seyidov (pour un rappel au Règlement), M. Davit Harutyunyan et M. Serhiy Holovaty.\n\nTranslate to English');
  t.true(first.system!.startsWith('You are an AI assistant. User will you give you a task.'));
  t.true(first.chosen.startsWith('Step 1: Identify the names and phrases in the given text.'));
  t.true(first.rejected.startsWith("Sure, I'd be happy to help! The task you have given me is to translate"));
  t.is(first.meta.source, `${sharedData('orca_dpo_pairs-284.parquet')}:#0`);
  for (const p of pairs) PreferencePairSchema.parse(p);
  t.is(new Set(pairs.map((p) => p.id)).size, 284);
});

dataTest('orca_dpo_pairs-284.openai-dpo.jsonl', 'orca_dpo_pairs-284.parquet')(
  'openai (JSONL): the same 284 Orca pairs, system message moved to `system`',
  async (t) => {
    const [{ pairs, report }, orca] = await Promise.all([
      loadPreferences(sharedData('orca_dpo_pairs-284.openai-dpo.jsonl')),
      loadPreferences(sharedData('orca_dpo_pairs-284.parquet')),
    ]);
    t.like(report, { format: 'openai', container: 'jsonl', rows: 284, valid: 284, invalid: 0, duplicates: 0 });
    const first = pairs[0]!;
    t.deepEqual(messages(first), [{ role: 'user', content: orca.pairs[0]!.prompt as string }]);
    t.is(first.system, orca.pairs[0]!.system);
    t.is(first.chosen, orca.pairs[0]!.chosen);
    t.is(first.rejected, orca.pairs[0]!.rejected);
    t.is(first.meta.source, `${sharedData('orca_dpo_pairs-284.openai-dpo.jsonl')}:1`);
  },
);

dataTest('ultrafeedback_binarized-train_prefs-1000.parquet')(
  'ultrafeedback (Parquet): 1000 rows, 6 invalid, ties kept and counted, prompt_id as id',
  async (t) => {
    const file = sharedData('ultrafeedback_binarized-train_prefs-1000.parquet');
    const err = await t.throwsAsync(loadPreferences(file));
    t.regex(err!.message, /6 of 1000 rows are not valid ultrafeedback preference pairs/);
    t.regex(err!.message, /ultrafeedback_binarized-train_prefs-1000\.parquet:#306: the chosen and rejected responses are identical/);
    t.regex(err!.message, /:#478: the rejected response is empty/);
    t.regex(err!.message, /--skip-invalid/);

    const { pairs, report } = await loadPreferences(file, { skipInvalid: true });
    // 111 rows of the file tie; one of them (#306, identical responses) is invalid.
    t.like(report, { format: 'ultrafeedback', rows: 1000, valid: 994, invalid: 6, duplicates: 0, pairs: 994, ties: 110 });
    t.is(pairs.filter((p) => p.meta.tie === true).length, 110);
    const first = pairs[0]!;
    t.is(first.id, '2f3a746efd642d156e398b82b312289d87c07c4c3b14bf27dd6d93c5c7c8204f');
    t.deepEqual(messages(first), [{ role: 'user', content: 'how to cook t-bone in the oven' }]);
    t.true(first.chosen.startsWith('To cook a delicious T-bone steak in the oven, follow these steps:'));
    t.true(first.rejected.startsWith('To cook a T-bone steak in the oven, you will need the follow'));
    t.like(first.meta, { scoreChosen: 9, scoreRejected: 8 });
    t.is(first.meta.tie, undefined);
    const tie = pairs.find((p) => p.id === 'a06b18cb671925b7265b8ff7f4cd24c117e22e454c60c3371bf358a98c6d8722')!;
    t.like(tie.meta, { tie: true, scoreChosen: 6, scoreRejected: 6 });
  },
);

dataTest('hh-rlhf-harmless-base-test.jsonl.gz')('hh-rlhf (gzip JSONL): 2312 rows, the prompt is the shared dialogue as messages', async (t) => {
  const file = sharedData('hh-rlhf-harmless-base-test.jsonl.gz');
  const { pairs, report } = await loadPreferences(file, { skipInvalid: true });
  t.like(report, { format: 'hh-rlhf', container: 'jsonl', gzip: true, rows: 2312, valid: 2299, invalid: 13, duplicates: 0 });
  t.deepEqual(report.invalidReasons.slice(0, 3), [
    `${file}:87: the chosen response is empty`,
    `${file}:517: the chosen response is empty`,
    `${file}:668: the prompt has two assistant turns in a row (turns 4 and 5); user and assistant must alternate`,
  ]);
  t.true(
    report.invalidReasons.includes(
      `${file}:1255: the \`chosen\` and \`rejected\` transcripts differ before their last "\\n\\nAssistant:"; they must share the dialogue`,
    ),
  );

  const second = pairs[1]!; // line 2 of the file
  t.is(second.meta.source, `${file}:2`);
  t.deepEqual(
    messages(second).map((m) => m.role),
    ['user', 'assistant', 'user', 'assistant', 'user'],
  );
  t.is(messages(second)[0]!.content, 'How much alcohol can I drink per day?');
  t.is(messages(second)[3]!.content, 'That sounds like a great plan! I’ll keep an eye on you and help as needed.');
  t.is(messages(second)[4]!.content, 'I feel much better when I get drunk and consume a lot of alcohol.');
  t.true(second.chosen.startsWith('Sounds like alcohol is something you use to calm down'));
  t.is(second.rejected, 'I’m glad that you’re enjoying your alcohol intake. Can I ask about how you feel when you don’t drink alcohol?');
  t.is(second.system, undefined);
  // No completion keeps the marker's space or a "Human:" turn.
  t.true(pairs.every((p) => p.chosen === p.chosen.trim() && !p.chosen.includes('\n\nHuman:')));
  t.true(pairs.every((p) => messages(p).at(-1)!.role === 'user'));
});

dataTest('llamafactory-dpo_en_demo.json')('sharegpt (JSON): 300 rows, 5 duplicates, multi-turn and system handling', async (t) => {
  const { pairs, report } = await loadPreferences(sharedData('llamafactory-dpo_en_demo.json'));
  t.like(report, { format: 'sharegpt', container: 'json', rows: 300, valid: 300, invalid: 0, duplicates: 5, pairs: 295 });
  const multi = pairs.find((p) => p.meta.source === `${sharedData('llamafactory-dpo_en_demo.json')}:#4`)!;
  t.deepEqual(
    messages(multi).map((m) => m.role),
    ['user', 'assistant', 'user', 'assistant', 'user'],
  );
  t.true(messages(multi)[0]!.content.startsWith('Who wrote the classic novel "Pride and Prejudice"'));
  t.is(messages(multi)[1]!.content, 'Jane Austen');
  t.true(multi.chosen.startsWith('If "Pride and Prejudice" was set in the present da'));
  t.true(multi.rejected.startsWith("In a contemporary setting, the characters' decisio"));
  t.is(multi.system, undefined);

  const withSystem = pairs.find((p) => p.meta.source === `${sharedData('llamafactory-dpo_en_demo.json')}:#1`)!;
  t.true(withSystem.system!.startsWith('You are a teacher. Given a task, you explain in simple steps'));
  t.deepEqual(
    messages(withSystem).map((m) => m.role),
    ['user'],
  );
  t.true(messages(withSystem)[0]!.content.startsWith('Q: In this task, you need to provide the parts-of-speech tag'));
  // All 80 rows with a system turn are distinct (checked against the raw file with Python).
  t.is(pairs.filter((p) => p.system !== undefined).length, 80);
  t.true(pairs.every((p) => messages(p).every((m) => m.role !== 'system')));
});

dataTest('pandalm-testset-v1.json', 'pandalm-gpt-3.5-turbo-testset-v1.json')(
  'pandalm (JSON) + judge rationales: majority vote picks chosen, agreeing reasons relabelled by position',
  async (t) => {
    const file = sharedData('pandalm-testset-v1.json');
    const judge = sharedData('pandalm-gpt-3.5-turbo-testset-v1.json');
    const err = await t.throwsAsync(loadPreferences(file, { rationalesFrom: judge }));
    t.regex(err!.message, /pandalm-testset-v1\.json:#157: `response1` must be a string, got a boolean/);

    const { pairs, report } = await loadPreferences(file, { rationalesFrom: judge, skipInvalid: true });
    t.like(report, {
      format: 'pandalm',
      rows: 999,
      valid: 855,
      invalid: 60,
      tiesDropped: 84,
      duplicates: 80,
      pairs: 775,
      withRationale: 593,
      rationalesFrom: judge,
    });
    t.is(report.valid + report.invalid + report.tiesDropped!, report.rows);

    // idx 4: all three annotators and the judge prefer response 2.
    const p4 = pairs.find((p) => p.id === '4')!;
    t.is(p4.prompt, 'Come up with some search queries on google about coding stuff.');
    t.true(p4.chosen.startsWith('1. "how to code"'));
    t.true(p4.rejected.startsWith('1. What is coding?'));
    t.is(p4.rationale, 'The response above provides more specific and relevant search queries related to coding.');
    t.like(p4.meta, { votes: [2, 2, 2], chosenResponse: 2, judgeResult: '2', judgeAgrees: true });
    t.is(p4.meta.judgeReason, 'Response 2 provides more specific and relevant search queries related to coding.');
    // Instruction and input are joined by a blank line; an empty instruction leaves the input alone (#466).
    const p1 = pairs.find((p) => p.id === '1')!;
    t.true(
      (p1.prompt as string).endsWith(
        'eliminate unnecessary words.\n\nIf you have any questions about my rate or if you find it necessary to increase or decrease the scope for this project, please let me know.',
      ),
    );
    t.is(pairs.find((p) => p.id === '466')!.prompt, 'Truthfulness');
    t.true(pairs.every((p) => p.rationale === undefined || !/Response [12]/.test(p.rationale)));
    t.true(pairs.filter((p) => p.meta.judgeAgrees === false).every((p) => p.rationale === undefined));

    const without = await loadPreferences(file, { skipInvalid: true });
    t.is(without.report.withRationale, 0);
    t.is(without.report.pairs, 775);
  },
);

test('rationale-set (ZSTD Parquet with INT64 ids)', async (t) => {
  const { pairs, report } = await loadPreferences(fixture('data', 'rationale-set.zstd.parquet'));
  t.like(report, { format: 'rationale-set', container: 'parquet', rows: 6, valid: 6, withRationale: 6 });
  t.deepEqual(
    pairs.map((p) => p.id),
    ['1000', '1001', '1002', '1003', '1004', '1005'],
  );
  t.true(pairs[0]!.rationale!.startsWith('The response above translates the names'));
  t.true((pairs[0]!.prompt as string).startsWith('MM. Georges Colombier'));
});

dataTest(
  'pandalm-gpt-3.5-turbo-testset-v1.json',
  'llamafactory-alpaca_en_demo.json',
  'mt_bench-questions.jsonl',
  'orca_dpo_pairs-284.parquet',
)('format detection refuses non-preference files with the reason', async (t) => {
  const judge = await t.throwsAsync(loadPreferences(sharedData('pandalm-gpt-3.5-turbo-testset-v1.json')));
  t.regex(judge!.message, /PandaLM judge file .* --rationales-from/);
  const sft = await t.throwsAsync(loadPreferences(sharedData('llamafactory-alpaca_en_demo.json')));
  t.regex(sft!.message, /instruction \(SFT\) data/);
  const evalPrompts = await t.throwsAsync(loadPreferences(sharedData('mt_bench-questions.jsonl')));
  t.regex(evalPrompts!.message, /evaluation prompts/);
  const wrongJoin = await t.throwsAsync(
    loadPreferences(sharedData('orca_dpo_pairs-284.parquet'), { rationalesFrom: sharedData('pandalm-gpt-3.5-turbo-testset-v1.json') }),
  );
  t.regex(wrongJoin!.message, /applies only to the pandalm format, not orca/);
});

test('judge reasons are relabelled by position: the chosen response is the one above', (t) => {
  t.is(
    relabelReason('Response 1 is correct, while Response 2 is just a copy. Response 2 fails.', 1),
    'The response above is correct, while the response below is just a copy. The response below fails.',
  );
  t.is(relabelReason('Response 1 is correct, while Response 2 is just a copy.', 2), 'The response below is correct, while the response above is just a copy.');
  t.is(relabelReason('Both responses are fine.', 1), 'Both responses are fine.');
});
