// The built-in demo behind `npx rdpo-native train` with no arguments, fully offline:
//   1. a small Llama made from scratch with a byte-level tokenizer (transformers loads it);
//   2. the arithmetic preference task, with rationales that state the checkable property and a
//      spurious length cue in the chosen answers;
//   3. SFT on the chosen answers (the reference), then DPO and RDPO on the same pairs;
//   4. greedy answers to held-out questions judged by the task's exact checker: accuracy,
//      length, and winrates (vs SFT, RDPO vs DPO);
//   5. report.md with Vega-Lite plots, stating what was measured whichever way it came out.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CausalLM } from '../model/causal_lm.js';
import { applyChatTemplate } from '../tokenize/chat_template.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { train, type TrainResult } from '../train/trainer.js';
import type { MetricsRow } from '../train/metrics.js';
import { readJsonlRows } from '../util/jsonl_append.js';
import { DEMO_TASK, isCorrect, judgeArithmetic, makeArithmeticPairs, makeEvalProblems, questionText, type ArithmeticProblem } from './arithmetic_task.js';
import { writeDemoReport, type DemoModelResult } from './demo_report.js';
import { createTinyLlama, DEMO_SHAPE } from './tiny_llama.js';

export interface DemoOptions {
  outDir: string;
  pairs?: number;
  evalQuestions?: number;
  sftSteps?: number;
  preferenceSteps?: number;
  batchSize?: number;
  log?: (message: string) => void;
}

export interface DemoResult {
  outDir: string;
  reportPath: string;
  seconds: number;
  models: DemoModelResult[];
}

async function answerAll(modelDir: string, problems: ArithmeticProblem[]): Promise<string[]> {
  const tokenizer = Tokenizer.load(modelDir);
  const model = await CausalLM.load(modelDir);
  try {
    const prompts = problems.map((p) => applyChatTemplate(tokenizer, [{ role: 'user', content: questionText(p) }], { addGenerationPrompt: true }));
    const answers: string[] = [];
    for (let i = 0; i < prompts.length; i += 64) {
      const out = await model.generate(prompts.slice(i, i + 64), { maxNewTokens: 48, temperature: 0 });
      for (const ids of out) answers.push(tokenizer.decode(ids, { skipSpecialTokens: true }).trim());
    }
    return answers;
  } finally {
    model.dispose();
  }
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const log = opts.log ?? ((m: string) => process.stderr.write(`[demo] ${m}\n`));
  const out = path.resolve(opts.outDir);
  mkdirSync(out, { recursive: true });
  const task = { ...DEMO_TASK, pairs: opts.pairs ?? DEMO_TASK.pairs };
  const batchSize = opts.batchSize ?? 16;

  log(`creating a ${DEMO_SHAPE.layers}-layer Llama (hidden ${DEMO_SHAPE.hiddenSize}) with a byte-level tokenizer in ${path.join(out, 'base-model')}`);
  const { parameters } = createTinyLlama(path.join(out, 'base-model'));
  const pairs = makeArithmeticPairs(task);
  const dataFile = path.join(out, 'data', 'arithmetic-pairs.jsonl');
  mkdirSync(path.dirname(dataFile), { recursive: true });
  writeFileSync(dataFile, pairs.map((p) => JSON.stringify({ id: p.id, prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, rationale: p.rationale })).join('\n') + '\n');
  log(`${pairs.length} preference pairs with rationales in ${dataFile}`);

  const common = { data: dataFile, batchSize, warmupSteps: 10, schedule: 'cosine' as const, evalSize: 64, seed: 1, refCache: false, maxLength: 512, maxPromptLength: 384 };
  const runs: Record<string, TrainResult> = {};
  const stepLog = (name: string) => (row: MetricsRow) => {
    if (row.eval) log(`${name} eval @${row.step}: loss ${row.loss.toFixed(3)}${typeof row['rewards/accuracies'] === 'number' ? ` acc ${(row['rewards/accuracies'] as number).toFixed(2)}` : ''}`);
    else if (row.step % 50 === 0) log(`${name} step ${row.step}: loss ${row.loss.toFixed(3)} (${Math.round(row.tokens_per_sec ?? 0)} tok/s)`);
  };
  log('SFT on the chosen answers (the reference model for DPO and RDPO)');
  runs.sft = await train(
    { ...common, model: path.join(out, 'base-model'), loss: 'sft', lr: 3e-3, maxSteps: opts.sftSteps ?? 600, evalEvery: 200, out: path.join(out, 'runs', 'sft') },
    { onStep: stepLog('sft') },
  );
  const sftDir = runs.sft.finalModelDir!;
  for (const loss of ['dpo', 'rdpo'] as const) {
    log(`${loss.toUpperCase()} from the SFT model`);
    // The rationale term is the per-token mean here: a byte-level tokenizer makes the summed NLL
    // ~4× larger than a BPE model's for the same text, which would drown the DPO term.
    const rationale = loss === 'rdpo' ? { gamma: 2, rationaleNorm: 'mean' as const } : {};
    runs[loss] = await train(
      { ...common, ...rationale, model: sftDir, loss, lr: 5e-5, beta: 0.1, maxSteps: opts.preferenceSteps ?? 150, evalEvery: 50, out: path.join(out, 'runs', loss) },
      { onStep: stepLog(loss) },
    );
  }

  const problems = makeEvalProblems(opts.evalQuestions ?? 200, task.maxOperand, 4242);
  const answers: Record<string, string[]> = {};
  const tokenizer = Tokenizer.load(sftDir);
  const models: DemoModelResult[] = [];
  for (const name of ['sft', 'dpo', 'rdpo']) {
    log(`answering ${problems.length} held-out questions with ${name}`);
    const a = await answerAll(runs[name]!.finalModelDir!, problems);
    answers[name] = a;
    const correct = a.filter((text, i) => isCorrect(problems[i]!, text)).length;
    models.push({
      name,
      accuracy: correct / problems.length,
      meanChars: a.reduce((s, t) => s + t.length, 0) / a.length,
      meanTokens: a.reduce((s, t) => s + tokenizer.encode(t).length, 0) / a.length,
      metrics: readJsonlRows<MetricsRow>(path.join(runs[name]!.runDir, 'metrics.jsonl')),
    });
  }
  const winrate = (a: string, b: string) => {
    let wins = 0, losses = 0, ties = 0;
    problems.forEach((p, i) => {
      const v = judgeArithmetic(p, answers[a]![i]!, answers[b]![i]!);
      if (v === 'A') wins++;
      else if (v === 'B') losses++;
      else ties++;
    });
    return { a, b, wins, losses, ties, winrate: (wins + ties / 2) / problems.length };
  };
  const comparisons = [winrate('dpo', 'sft'), winrate('rdpo', 'sft'), winrate('rdpo', 'dpo')];
  writeFileSync(
    path.join(out, 'answers.jsonl'),
    problems.map((p, i) => JSON.stringify({ question: questionText(p), answer: p.answer, sft: answers.sft![i], dpo: answers.dpo![i], rdpo: answers.rdpo![i] })).join('\n') + '\n',
  );
  const seconds = (Date.now() - started) / 1000;
  const reportPath = await writeDemoReport(out, {
    parameters,
    pairs: pairs.length,
    evalQuestions: problems.length,
    models,
    comparisons,
    seconds,
    examples: problems.slice(0, 5).map((p, i) => ({ question: questionText(p), answer: p.answer, sft: answers.sft![i]!, dpo: answers.dpo![i]!, rdpo: answers.rdpo![i]! })),
    rationaleExample: pairs[0]!.rationale!,
  });
  return { outDir: out, reportPath, seconds, models };
}
