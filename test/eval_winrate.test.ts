import test from 'ava';
import { countWins, summarizeWinrate, type Judgment } from '../lib/eval/winrate.js';
import { distribution } from '../lib/eval/stats.js';

test('ties count half; unparseable answers count for neither but stay in the denominator', (t) => {
  const c = countWins([{ winner: 'A' }, { winner: 'A' }, { winner: 'B' }, { winner: 'tie' }, { winner: null }]);
  t.deepEqual(c, { judgments: 5, winsA: 2, winsB: 1, ties: 1, unparseable: 1, winrate: 2.5 / 5, winrateExcludingTies: 2 / 3 });
});

test('no judgments and no decisive judgments give null winrates', (t) => {
  t.is(countWins([]).winrate, null);
  t.is(countWins([]).winrateExcludingTies, null);
  const onlyTies = countWins([{ winner: 'tie' }, { winner: null }]);
  t.is(onlyTies.winrate, 0.25);
  t.is(onlyTies.winrateExcludingTies, null);
});

test('the summary breaks down by order and uses items as the unit of the standard error', (t) => {
  const j = (id: string, order: 'AB' | 'BA', winner: Judgment['winner']): Judgment => ({ id, order, winner });
  const s = summarizeWinrate([j('x', 'AB', 'A'), j('x', 'BA', 'B'), j('y', 'AB', 'A'), j('y', 'BA', 'A'), j('z', 'AB', 'tie'), j('z', 'BA', null)]);
  t.is(s.items, 3);
  t.is(s.judgments, 6);
  t.is(s.winrate, 3.5 / 6);
  t.is(s.byOrder.AB.winrate, 2.5 / 3);
  t.is(s.byOrder.BA.winrate, 1 / 3);
  // item scores 0.5, 1, 0.25: mean 7/12, sample sd → stderr
  const scores = [0.5, 1, 0.25];
  const mean = 7 / 12;
  const sd = Math.sqrt(scores.reduce((a, v) => a + (v - mean) ** 2, 0) / 2);
  t.true(Math.abs(s.winrateStdErr - sd / Math.sqrt(3)) < 1e-12);
});

test('length distributions: mean, median, p90', (t) => {
  const d = distribution([10, 1, 4, 3, 2, 5, 6, 7, 8, 9]);
  t.is(d.mean, 5.5);
  t.is(d.median, 5.5);
  t.is(d.p90, 9);
  t.is(distribution([3, 1, 2]).median, 2);
  t.is(distribution([]).count, 0);
});
