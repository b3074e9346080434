// Winrate arithmetic over judgments. An unparseable answer is a win for neither side but still a
// judgment (the paper's rule), so it lowers A's winrate with ties counted half; the ties-excluded
// winrate is A's share of the decisive judgments, A / (A + B).
import type { Order } from './judge_prompt.js';
import { standardError } from './stats.js';

export type Winner = 'A' | 'B' | 'tie' | null;

export interface Judgment {
  /** The compared item (a prompt). */
  id: string;
  order: Order;
  winner: Winner;
}

export interface WinCounts {
  judgments: number;
  winsA: number;
  winsB: number;
  ties: number;
  unparseable: number;
  /** (winsA + ties / 2) / judgments; null without judgments. */
  winrate: number | null;
  /** winsA / (winsA + winsB); null without a decisive judgment. */
  winrateExcludingTies: number | null;
}

export interface WinrateSummary extends WinCounts {
  /** Distinct items judged. */
  items: number;
  /**
   * Standard error of `winrate` over items (each item's score: the mean of its judgments, a tie
   * half, unparseable zero). The judgments of one item are not independent, so items are the unit.
   */
  winrateStdErr: number;
  byOrder: Record<Order, WinCounts>;
}

export function countWins(judgments: readonly Pick<Judgment, 'winner'>[]): WinCounts {
  let winsA = 0;
  let winsB = 0;
  let ties = 0;
  let unparseable = 0;
  for (const j of judgments) {
    if (j.winner === 'A') winsA++;
    else if (j.winner === 'B') winsB++;
    else if (j.winner === 'tie') ties++;
    else unparseable++;
  }
  const n = judgments.length;
  return {
    judgments: n,
    winsA,
    winsB,
    ties,
    unparseable,
    winrate: n === 0 ? null : (winsA + ties / 2) / n,
    winrateExcludingTies: winsA + winsB === 0 ? null : winsA / (winsA + winsB),
  };
}

function score(w: Winner): number {
  return w === 'A' ? 1 : w === 'tie' ? 0.5 : 0;
}

export function summarizeWinrate(judgments: readonly Judgment[]): WinrateSummary {
  const perItem = new Map<string, number[]>();
  for (const j of judgments) {
    const list = perItem.get(j.id) ?? [];
    list.push(score(j.winner));
    perItem.set(j.id, list);
  }
  const itemScores = [...perItem.values()].map((s) => s.reduce((a, b) => a + b, 0) / s.length);
  return {
    ...countWins(judgments),
    items: perItem.size,
    winrateStdErr: standardError(itemScores),
    byOrder: {
      AB: countWins(judgments.filter((j) => j.order === 'AB')),
      BA: countWins(judgments.filter((j) => j.order === 'BA')),
    },
  };
}
