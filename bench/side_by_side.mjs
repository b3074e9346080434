// The decisions of bench/run.mjs that are not timing: which runs in which order, when the machine
// counts as quiet, which of a side's runs counts, and whether a row may be recorded as a verdict.
// Kept apart (and pure: clocks and load readings are passed in) so test/bench_side_by_side.test.ts
// can check them without running a benchmark.

/** Above this 1-minute load average per core before a side starts, the side's figures are no verdict. */
export const MAX_LOAD_PER_CORE = 0.5;

/** "2,8" → [2, 8]: whole numbers ≥ min, in the order given, duplicates dropped. */
export function parseIntList(text, flag, min = 1) {
  const out = [];
  for (const part of String(text).split(',')) {
    const s = part.trim();
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min)
      throw new RangeError(`${flag}: "${part}" is not a whole number ≥ ${min} (give a comma-separated list such as 2,8)`);
    if (!out.includes(n)) out.push(n);
  }
  if (out.length === 0) throw new RangeError(`${flag}: empty list`);
  return out;
}

/**
 * The runs in execution order. Within each (dtype, batch) the sides alternate — TRL, ours, TRL,
 * ours … — so that a change in the machine's load over time hits both sides alike.
 * `only` ('ours' | 'trl') keeps one side.
 */
export function schedule({ dtypes, batches, repeats, only }) {
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`--repeats must be a whole number ≥ 1, got ${repeats}`);
  const sides = only ? [only] : ['trl', 'ours'];
  const runs = [];
  for (const dtype of dtypes)
    for (const batch of batches) for (let repeat = 0; repeat < repeats; repeat++) for (const side of sides) runs.push({ dtype, batch, side, repeat });
  return runs;
}

/** Whether a side that starts at this 1-minute load average on `cores` cores measures the machine, not the other load. */
export function quietEnough(loadBefore, cores, maxPerCore = MAX_LOAD_PER_CORE) {
  return loadBefore <= maxPerCore * cores;
}

/**
 * Waits (by polling `loadavg`, sleeping with `sleep(ms)`) until the 1-minute load average is quiet
 * enough, for at most `maxWaitS` seconds. The previous side's own threads keep the average up for a
 * minute or two after it ends (it decays with a one-minute time constant), so without this wait
 * every second side would start "busy". Resolves to { load, waitedS, quiet }.
 */
export async function waitForQuiet({ cores, maxWaitS, pollS = 5, maxPerCore = MAX_LOAD_PER_CORE, loadavg, sleep }) {
  let waited = 0;
  let load = loadavg();
  while (!quietEnough(load, cores, maxPerCore) && waited + pollS <= maxWaitS) {
    await sleep(pollS * 1000);
    waited += pollS;
    load = loadavg();
  }
  return { load, waitedS: waited, quiet: quietEnough(load, cores, maxPerCore) };
}

/** tokens/s of a side's result on the common basis: chosen + rejected tokens (TRL's count). */
export function pairTokensPerSec(side, result) {
  return side === 'ours' ? result.pair_tokens_per_sec : result.tokens_per_sec;
}

/**
 * One table row per (dtype, batch) from the runs' records ({dtype, batch, side, result?, error?,
 * loadBefore, loadAfter}). Each side counts its best run by tokens/s (the runs least disturbed)
 * and its lowest peak RSS; the row is a verdict only when every run of both sides started quiet.
 */
export function summarizeRows(records, { cores, maxPerCore = MAX_LOAD_PER_CORE }) {
  const keys = [];
  for (const r of records) if (!keys.some((k) => k.dtype === r.dtype && k.batch === r.batch)) keys.push({ dtype: r.dtype, batch: r.batch });
  return keys.map(({ dtype, batch }) => {
    const mine = records.filter((r) => r.dtype === dtype && r.batch === batch);
    const side = (name) => {
      const runs = mine.filter((r) => r.side === name);
      const ok = runs.filter((r) => r.result);
      if (ok.length === 0) return runs.length ? { runs: runs.length, best: null } : null;
      const best = ok.reduce((a, b) => (pairTokensPerSec(name, b.result) > pairTokensPerSec(name, a.result) ? b : a));
      return {
        runs: runs.length,
        best: best.result,
        tokensPerSec: pairTokensPerSec(name, best.result),
        allTokensPerSec: ok.map((r) => pairTokensPerSec(name, r.result)),
        peakRssMb: Math.min(...ok.map((r) => r.result.peak_rss_mb)),
        loadsBefore: runs.map((r) => r.loadBefore),
        loadsAfter: runs.map((r) => r.loadAfter),
      };
    };
    const ours = side('ours');
    const trl = side('trl');
    const busy = mine.filter((r) => !quietEnough(r.loadBefore, cores, maxPerCore));
    const errors = mine.filter((r) => r.error).map((r) => `${r.side} (${dtype}, batch ${batch}): ${r.error}`);
    const verdict = busy.length === 0 && errors.length === 0 && ours?.best != null && trl?.best != null;
    return {
      dtype,
      batch,
      ours,
      trl,
      speedup: ours?.best && trl?.best ? ours.tokensPerSec / trl.tokensPerSec : null,
      rssRatio: ours?.best && trl?.best ? ours.peakRssMb / trl.peakRssMb : null,
      hardwareMfu: ours?.best?.hardware_mfu ?? null,
      verdict,
      notVerdictReason: verdict
        ? null
        : busy.length
          ? `load before a side ${Math.max(...busy.map((r) => r.loadBefore)).toFixed(2)} > ${(maxPerCore * cores).toFixed(2)} (${maxPerCore} per core × ${cores})`
          : errors.length
            ? 'a run failed'
            : 'one side missing',
      errors,
    };
  });
}

/** Whether --record may write these rows: all verdicts, or `allowBusy` (then rows are marked). */
export function recordDecision(rows, { allowBusy }) {
  const bad = rows.filter((r) => !r.verdict);
  if (bad.length === 0) return { record: true, message: null };
  const list = bad.map((r) => `${r.dtype} batch ${r.batch}: ${r.notVerdictReason}`).join('; ');
  if (allowBusy) return { record: true, message: `recording rows marked "not a verdict": ${list}` };
  return { record: false, message: `--record refused: ${list}. Rerun on a quiet machine (or add --record-busy to record them marked "not a verdict")` };
}

/** The scaling sweeps: sequence length at a fixed batch, then batch at a fixed sequence length. */
export function scalingPoints({ seqLens, batches, fixedBatch, fixedSeqLen }) {
  const pts = seqLens.map((seqLen) => ({ sweep: 'sequence length', seqLen, batch: fixedBatch }));
  for (const batch of batches) if (!pts.some((p) => p.seqLen === fixedSeqLen && p.batch === batch)) pts.push({ sweep: 'batch', seqLen: fixedSeqLen, batch });
  return pts;
}
