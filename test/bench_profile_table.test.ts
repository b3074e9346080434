// bench/profile_table.mjs's logic (lib/bench/profile_table.ts) on a hand-made trace: self time,
// phase split, warm-up instances left out, op kinds decided by the innermost op or an attention /
// cast ancestor.
import test from 'ava';
import { breakdown, categorize, formatBreakdown, type TraceEvent } from '../lib/bench/profile_table.js';

test('op kinds: matmuls, elementwise, casts and attention (including what runs inside them)', (t) => {
  t.is(categorize('aten::mm', []), 'matmul');
  t.is(categorize('aten::addmm', ['aten::linear']), 'matmul');
  t.is(categorize('aten::mul', []), 'norm/rotary/activation (elementwise)');
  t.is(categorize('aten::silu_backward', ['autograd::engine::evaluate_function: SiluBackward0']), 'norm/rotary/activation (elementwise)');
  t.is(categorize('aten::copy_', ['aten::to', 'aten::_to_copy']), 'cast');
  t.is(categorize('aten::bmm', ['aten::scaled_dot_product_attention']), 'attention');
  t.is(categorize('aten::mul', ['autograd::engine::evaluate_function: ScaledDotProductFlashAttentionForCpuBackward0']), 'attention');
  t.is(categorize('aten::empty', []), 'allocation');
  t.is(categorize('aten::_log_softmax', []), 'loss/log-prob reductions');
  t.is(categorize('autograd::engine::evaluate_function: MmBackward0', []), 'autograd/dispatch overhead');
  t.is(categorize('rdpo::something_new', []), 'other');
});

const X = (name: string, ts: number, dur: number, tid = 1): TraceEvent => ({ name, ph: 'X', cat: 'cpu_op', ts, dur, pid: 1, tid });

test('self time per phase, warm-up instances left out, ms per instance', (t) => {
  const events: TraceEvent[] = [
    // warm-up step (left out): 10 ms of matmul
    X('rdpo::forward_backward', 0, 20_000),
    X('aten::mm', 1_000, 10_000),
    // two counted steps, on another thread (native calls run on pool threads)
    X('rdpo::forward_backward', 100_000, 10_000, 2),
    X('aten::linear', 100_000, 6_000, 2),
    X('aten::addmm', 100_500, 5_000, 2), // linear's self time is 1 ms (a matmul too)
    X('aten::to', 106_000, 2_000, 2),
    X('aten::copy_', 106_100, 1_500, 2), // a cast because of its ancestor
    X('rdpo::forward_backward', 200_000, 10_000, 2),
    X('aten::scaled_dot_product_attention', 200_000, 4_000, 2),
    X('aten::bmm', 200_100, 3_000, 2),
    X('rdpo::optimizer_step', 300_000, 3_000, 2),
    X('aten::_fused_adamw_', 300_000, 2_500, 2),
    { name: 'not complete', ph: 'i', ts: 0, pid: 1, tid: 1 },
  ];
  const rows = breakdown(events, { warmup: 1 });
  const fb = rows.find((r) => r.phase === 'rdpo::forward_backward')!;
  t.is(fb.instances, 2);
  t.is(fb.msPerInstance, 10);
  t.is(fb.byCategory.matmul, 3); // addmm 5 ms + linear's own 1 ms, over 2 steps
  t.is(fb.byCategory['autograd/dispatch overhead'], 0);
  t.is(fb.byCategory.cast, 1); // aten::to self 0.5 + copy_ 1.5 = 2 ms over 2 steps
  t.is(fb.byCategory.attention, 2); // 4 ms over 2
  t.is(fb.byCategory.other, (20 - 6 - 2 - 4) / 2); // phase time outside any op
  const total = Object.values(fb.byCategory).reduce((a, b) => a + b, 0);
  t.true(Math.abs(total - fb.msPerInstance) < 1e-9, 'every microsecond counted once');
  // the optimizer phase had one instance only: it is kept even though warmup = 1
  const opt = rows.find((r) => r.phase === 'rdpo::optimizer_step')!;
  t.is(opt.instances, 1);
  t.is(opt.msPerInstance, 3);
  const table = formatBreakdown(rows);
  t.regex(table, /\| matmul \| 3\.0 \| 0\.0 \| 3\.0 \| 23\.1% \|/);
  t.regex(table, /\*\*phase total\*\* \| \*\*10\.0\*\* \| \*\*3\.0\*\* \| \*\*13\.0\*\*/);
});
