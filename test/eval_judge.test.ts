import test from 'ava';
import { choiceToWinner, judgeMessages, parseJudgeAnswer } from '../lib/eval/judge_prompt.js';
import { exactJudge, LlmJudge } from '../lib/eval/judge.js';
import type { ChatGenerator } from '../lib/llm/generator.js';

test('the judge chat is one user turn showing the conversation and both responses with END markers', (t) => {
  const messages = judgeMessages(
    [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello! How can I help?' },
      { role: 'user', content: 'What is 2 + 2?' },
    ],
    '2 + 2 = 4.',
    'It is 5.',
  );
  t.is(messages.length, 1);
  t.is(messages[0]!.role, 'user');
  const text = messages[0]!.content;
  const at = (s: string) => {
    const i = text.indexOf(s);
    t.true(i >= 0, `missing ${JSON.stringify(s)}`);
    return i;
  };
  // In this order: conversation, Response 1, its end marker, Response 2, its end marker, the question.
  const positions = [
    at('User: Hi'),
    at('Assistant: Hello! How can I help?'),
    at('User: What is 2 + 2?'),
    at('Response 1: 2 + 2 = 4.'),
    at('END OF RESPONSE 1'),
    at('Response 2: It is 5.'),
    at('END OF RESPONSE 2'),
    at('more helpful, harmless and concise'),
  ];
  t.deepEqual(
    positions,
    [...positions].sort((a, b) => a - b),
  );
  t.true(/pick one/i.test(text));
});

test('a text prompt is shown as a user turn', (t) => {
  const text = judgeMessages('Name a colour.', 'Red.', 'Blue.')[0]!.content;
  t.true(text.includes('User: Name a colour.'));
});

test('answers: bare numbers, "Response N", verdict phrases', (t) => {
  const cases: Array<[string, ReturnType<typeof parseJudgeAnswer>]> = [
    ['1', 1],
    ['2.', 2],
    ['Response 1', 1],
    ['response 2', 2],
    ['**Response 2**', 2],
    ['"Response 1"', 1],
    ['Response 2 is more helpful, harmless, and concise.', 2],
    ['Response 1. It is more concise than Response 2.', 1],
    ['Between Response 1 and Response 2, Response 2 is better.', 2],
    ['I would choose Response 1 because it is correct.', 1],
    ['I prefer response #2', 2],
    ['My answer: Response 1', 1],
    ['The second response is better.', 2],
    ['Response one', 1],
    ['Only Response 2 answers the question.', 2],
  ];
  for (const [answer, expected] of cases) t.is(parseJudgeAnswer(answer), expected, answer);
});

test('answers: ties and junk', (t) => {
  t.is(parseJudgeAnswer("It's a tie."), 'tie');
  t.is(parseJudgeAnswer('Both responses are equally helpful.'), 'tie');
  t.is(parseJudgeAnswer('Neither is better.'), 'tie');
  t.is(parseJudgeAnswer(''), null);
  t.is(parseJudgeAnswer('   '), null);
  t.is(parseJudgeAnswer('I cannot decide.'), null);
  t.is(parseJudgeAnswer('Response 1 and Response 2 both have merits'), null);
  t.is(parseJudgeAnswer('3'), null);
  t.is(parseJudgeAnswer('Response 3'), null);
  t.is(parseJudgeAnswer('The answer is 42'), null);
});

test('a choice about shown positions maps back to the sides in both orders', (t) => {
  t.is(choiceToWinner(1, 'AB'), 'A');
  t.is(choiceToWinner(2, 'AB'), 'B');
  t.is(choiceToWinner(1, 'BA'), 'B');
  t.is(choiceToWinner(2, 'BA'), 'A');
  t.is(choiceToWinner('tie', 'BA'), 'tie');
  t.is(choiceToWinner(null, 'AB'), null);
});

/** A real ChatGenerator whose "model" always prefers the response that contains "4". */
function scriptedGenerator(): ChatGenerator & { calls: Array<{ content: string; temperature: number; seed?: number }> } {
  const calls: Array<{ content: string; temperature: number; seed?: number }> = [];
  return {
    model: 'scripted',
    calls,
    async complete(messages, options) {
      const content = messages[0]!.content;
      calls.push({ content, temperature: options.temperature, ...(options.seed !== undefined ? { seed: options.seed } : {}) });
      const first = /Response 1: (.*)\nEND OF RESPONSE 1/s.exec(content)![1]!;
      const text = first.includes('4') ? 'Response 1' : 'Response 2 is better.';
      return { text, promptTokens: 1, completionTokens: 2, finishReason: 'stop' };
    },
    async close() {},
  };
}

test('the LLM judge asks at temperature 0 with a per-repeat seed and parses the answer', async (t) => {
  const gen = scriptedGenerator();
  const judge = new LlmJudge(gen, { seed: 10 });
  t.is(judge.name, 'llm:scripted');
  const ab = await judge.judge('What is 2 + 2?', '4', '5', { repeat: 0 });
  const ba = await judge.judge('What is 2 + 2?', '5', '4', { repeat: 2 });
  t.is(ab.choice, 1);
  t.is(ba.choice, 2);
  t.is(choiceToWinner(ab.choice, 'AB'), 'A');
  t.is(choiceToWinner(ba.choice, 'BA'), 'A');
  t.deepEqual(
    gen.calls.map((c) => [c.temperature, c.seed]),
    [
      [0, 10],
      [0, 12],
    ],
  );
});

test('an exact checker judge passes the shown responses as A/B and maps its verdict to positions', async (t) => {
  const judge = exactJudge('contains-4', (_p, a, b) => (a.includes('4') === b.includes('4') ? 'tie' : a.includes('4') ? 'A' : 'B'));
  t.is(judge.kind, 'exact');
  t.is((await judge.judge('q', '4', '5', { repeat: 0 })).choice, 1);
  t.is((await judge.judge('q', '5', '4', { repeat: 0 })).choice, 2);
  t.is((await judge.judge('q', '5', '6', { repeat: 0 })).choice, 'tie');
  const bad = exactJudge('bad', () => 'C' as never);
  await t.throwsAsync(bad.judge('q', 'a', 'b', { repeat: 0 }), { message: /must return 'A', 'B' or 'tie'/ });
});
