// Where a training step's time goes, from a Chrome trace of LibTorch's profiler (what
// `rdpo-native bench --profile FILE` / RDPO_PROFILE write): self time of every op, split by the
// trainer's named phases (rdpo::reference, rdpo::forward_backward, rdpo::optimizer_step) and,
// inside the model's work, by kind of op (matmuls, attention, elementwise, casts, allocation).
//
// Self time = an event's duration minus that of the events nested directly in it on the same
// thread, so every microsecond is counted once. An op's kind comes from the innermost op, except
// that everything under an attention op (SDPA and its backward) is attention and everything under
// a cast (aten::to/_to_copy and autocast's casts) is a cast.

export interface TraceEvent {
  name: string;
  ph?: string;
  cat?: string;
  ts?: number;
  dur?: number;
  pid?: number | string;
  tid?: number | string;
}

export interface ProfileMeta {
  /** Instances of each phase to leave out at the start (the bench's warm-up steps). */
  warmup: number;
  steps?: number;
  dtype?: string;
  batchSize?: number;
}

export const CATEGORIES = [
  'matmul',
  'attention',
  'norm/rotary/activation (elementwise)',
  'cast',
  'allocation',
  'loss/log-prob reductions',
  'autograd/dispatch overhead',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const PHASES = ['rdpo::reference', 'rdpo::forward_backward', 'rdpo::optimizer_step'] as const;
export type Phase = (typeof PHASES)[number];

const MATMUL = /^aten::(mm|addmm|bmm|baddbmm|matmul|linear|addmv|mv|dot|_mkldnn_matmul)$|^mkldnn::|^onednn::|^aten::mkldnn_/;
const ATTENTION = /scaled_dot_product|_attention|ScaledDotProduct|Attention/;
const CAST = /^aten::(to|_to_copy|_autocast_to_reduced_precision|_autocast_to_full_precision|type_as)$|ToCopyBackward/;
const ALLOC = /^aten::(empty|empty_strided|empty_like|zeros|zeros_like|zero_|fill_|full|ones|new_empty|new_empty_strided|new_zeros|resize_)$|\[memory\]/;
const ELEMENTWISE =
  /^aten::(mul|mul_|add|add_|sub|sub_|div|div_|neg|rsqrt|pow|mean|silu|silu_|silu_backward|sigmoid|cat|cos|sin|sqrt|exp|reciprocal|where|rsub|sum|narrow|slice|view|reshape|transpose|t|unsqueeze|squeeze|expand|permute|select|split|chunk|split_with_sizes|_unsafe_view|index_select|embedding|embedding_backward|embedding_dense_backward|index_add_|index_add|stack|copy_|addcmul_|addcdiv_|lerp_|rms_norm|_fused_rms_norm|native_layer_norm|threshold_backward|mul_backward|pow_backward)$/;
const LOSS =
  /^aten::(log_softmax|_log_softmax|_log_softmax_backward_data|logsumexp|gather|scatter|scatter_add_|softmax|_softmax|nll_loss|cross_entropy|max|amax|logsigmoid|log_sigmoid_forward|log_sigmoid_backward|bincount)$/;
const OVERHEAD =
  /^aten::(as_strided|contiguous|clone)$|^autograd::engine::evaluate_function|^torch::autograd::|Backward\d*$|^aten::detach|^detach_|^aten::alias|^aten::lift|^aten::result_type|^aten::is_nonzero|^aten::item|^aten::_local_scalar_dense/;

/** The kind of op an event's self time counts as, given the names of the ops it is nested in. */
export function categorize(name: string, ancestors: readonly string[]): Category {
  if ([name, ...ancestors].some((n) => ATTENTION.test(n) && !/^rdpo::/.test(n))) return 'attention';
  if ([name, ...ancestors].some((n) => CAST.test(n))) return 'cast';
  if (MATMUL.test(name)) return 'matmul';
  if (ALLOC.test(name)) return 'allocation';
  if (LOSS.test(name)) return 'loss/log-prob reductions';
  if (ELEMENTWISE.test(name)) return 'norm/rotary/activation (elementwise)';
  if (OVERHEAD.test(name)) return 'autograd/dispatch overhead';
  return 'other';
}

export interface PhaseBreakdown {
  phase: Phase;
  /** Instances counted (after the warm-up ones were left out). */
  instances: number;
  /** Mean wall milliseconds of one instance (the phase's own duration). */
  msPerInstance: number;
  /** Mean self milliseconds per instance by category. */
  byCategory: Record<Category, number>;
  /** The ops with the most self time per instance: [name, ms]. */
  topOps: Array<[string, number]>;
}

interface Node {
  ev: Required<Pick<TraceEvent, 'name' | 'ts' | 'dur'>>;
  children: Node[];
}

/** Nests complete events of one thread by time (an event inside another's interval is its descendant). */
function nest(events: TraceEvent[]): Node[] {
  const sorted = events
    .filter((e) => e.ph === 'X' && typeof e.ts === 'number' && typeof e.dur === 'number')
    .map((e) => ({ ev: { name: e.name, ts: e.ts!, dur: e.dur! }, children: [] as Node[] }))
    .sort((a, b) => a.ev.ts - b.ev.ts || b.ev.dur - a.ev.dur);
  const roots: Node[] = [];
  const stack: Node[] = [];
  for (const n of sorted) {
    while (stack.length && n.ev.ts >= stack[stack.length - 1]!.ev.ts + stack[stack.length - 1]!.ev.dur) stack.pop();
    (stack.length ? stack[stack.length - 1]!.children : roots).push(n);
    stack.push(n);
  }
  return roots;
}

/** Per-phase breakdown of a trace (microsecond timestamps, as Kineto writes them). */
export function breakdown(events: TraceEvent[], meta: ProfileMeta): PhaseBreakdown[] {
  const byThread = new Map<string, TraceEvent[]>();
  for (const e of events) {
    if (e.ph !== 'X' || e.cat === 'Trace' || e.name.startsWith('PyTorch Profiler')) continue;
    const key = `${e.pid}/${e.tid}`;
    const list = byThread.get(key);
    if (list) list.push(e);
    else byThread.set(key, [e]);
  }
  // Every phase instance on any thread, in time order.
  const instances: Array<{ phase: Phase; node: Node }> = [];
  const findPhases = (n: Node) => {
    if ((PHASES as readonly string[]).includes(n.ev.name)) instances.push({ phase: n.ev.name as Phase, node: n });
    else n.children.forEach(findPhases);
  };
  for (const evs of byThread.values()) nest(evs).forEach(findPhases);
  instances.sort((a, b) => a.node.ev.ts - b.node.ev.ts);

  const out: PhaseBreakdown[] = [];
  for (const phase of PHASES) {
    const all = instances.filter((i) => i.phase === phase);
    const kept = all.slice(Math.min(meta.warmup, Math.max(0, all.length - 1)));
    if (kept.length === 0) continue;
    const byCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
    const byOp = new Map<string, number>();
    const walk = (n: Node, ancestors: string[]) => {
      const self = n.ev.dur - n.children.reduce((a, c) => a + c.ev.dur, 0);
      if (!(PHASES as readonly string[]).includes(n.ev.name)) {
        byCategory[categorize(n.ev.name, ancestors)] += self;
        byOp.set(n.ev.name, (byOp.get(n.ev.name) ?? 0) + self);
      } else {
        byCategory.other += self; // phase time outside any op (host code between ops)
      }
      for (const c of n.children) walk(c, [...ancestors, n.ev.name]);
    };
    for (const { node } of kept) walk(node, []);
    const k = kept.length;
    const ms = (us: number) => us / 1000 / k;
    out.push({
      phase,
      instances: k,
      msPerInstance: ms(kept.reduce((a, i) => a + i.node.ev.dur, 0)),
      byCategory: Object.fromEntries(CATEGORIES.map((c) => [c, ms(byCategory[c])])) as Record<Category, number>,
      topOps: [...byOp]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([n, us]) => [n, ms(us)]),
    });
  }
  return out;
}

/** The Markdown table: one column per phase plus the whole step, ms and share of the step. */
export function formatBreakdown(rows: PhaseBreakdown[]): string {
  const step = rows.reduce((a, r) => a + r.msPerInstance, 0);
  const pct = (x: number) => (step > 0 ? `${((100 * x) / step).toFixed(1)}%` : '—');
  const head = `| kind | ${rows.map((r) => `${r.phase.replace('rdpo::', '')} ms`).join(' | ')} | step ms | share of step |`;
  const sep = `|---|${rows.map(() => '---:|').join('')}---:|---:|`;
  const lines = [head, sep];
  for (const c of CATEGORIES) {
    const total = rows.reduce((a, r) => a + r.byCategory[c], 0);
    lines.push(`| ${c} | ${rows.map((r) => r.byCategory[c].toFixed(1)).join(' | ')} | ${total.toFixed(1)} | ${pct(total)} |`);
  }
  lines.push(`| **phase total** | ${rows.map((r) => `**${r.msPerInstance.toFixed(1)}**`).join(' | ')} | **${step.toFixed(1)}** | 100% |`);
  return lines.join('\n');
}

export function formatTopOps(rows: PhaseBreakdown[], n = 8): string {
  return rows
    .map(
      (r) =>
        `${r.phase} (${r.instances} counted): ` +
        r.topOps
          .slice(0, n)
          .map(([name, ms]) => `${name} ${ms.toFixed(1)} ms`)
          .join(', '),
    )
    .join('\n');
}
