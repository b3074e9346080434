// The regexes of a tokenizer.json (pre-tokenizer Split, normalizer Replace, decoder Replace) run on
// every text tokenized, and a backtracking engine takes exponential time on a pattern that nests one
// unbounded repeat inside another: (a+)+$ spends 13 s on 26 characters and never ends on 30k. Such
// a file would hang training or `serve`; it is refused when the tokenizer is loaded.
//
// The patterns are Oniguruma (the Rust tokenizers' engine), which JavaScript parsers (and so the npm
// ReDoS checkers) do not all read — `(?i:…)`, nested character classes — so this is a small scanner
// of its own. It measures star height, the classic ReDoS test, and nothing more: an overlapping
// alternation like (a|a)*$ passes it, and is stopped by the tokenizer thread's deadline instead.

type JsonObject = Record<string, unknown>;

/** Where an escape that starts at `i` ends: `\p{L}`, `\x{1F600}`, `\k<name>` as one unit. */
function escapeEnd(p: string, i: number): number {
  const kind = p[i + 1];
  const open = p[i + 2];
  if (kind !== undefined && 'pPxuNkg'.includes(kind) && (open === '{' || open === '<')) {
    const close = p.indexOf(open === '{' ? '}' : '>', i + 3);
    if (close >= 0) return close + 1;
  }
  return Math.min(i + 2, p.length);
}

/** Where a character class that opens at `i` ends; Oniguruma classes nest (`[a-z&&[^aeiou]]`). */
function classEnd(p: string, i: number): number {
  let j = i + 1;
  if (p[j] === '^') j++;
  if (p[j] === ']') j++; // a `]` first in the class is a literal
  let depth = 1;
  while (j < p.length) {
    const c = p[j]!;
    if (c === '\\') j = escapeEnd(p, j);
    else if (c === '[') {
      depth++;
      j++;
    } else if (c === ']') {
      j++;
      if (--depth === 0) return j;
    } else j++;
  }
  return j;
}

const GROUP_OPEN = /^\((?:\?(?::|=|!|>|<=|<!|P?<[^>]*>|'[^']*'|[a-zA-Z-]+:))?/;
const INLINE_FLAGS_OR_COMMENT = /^\(\?(?:[a-zA-Z-]+|#[^)]*)\)/;
const QUANTIFIER = /^(?:([*+])|\?|\{\d+(,)?(\d*)\})[?+]?/;

/**
 * The first repeated group that holds another unbounded repeat — `(a+)+` in `(a+)+$` — as written
 * in `pattern`; undefined when there is none. Bounded repeats (`?`, `{1,3}`) do not count.
 */
export function nestedQuantifier(pattern: string): string | undefined {
  // One frame per open group: its start and the most repeats nested in it so far.
  const stack: Array<{ start: number; height: number }> = [{ start: 0, height: 0 }];
  // What a quantifier at the current position would repeat, and its own nesting of repeats.
  let atom: { start: number; height: number } | undefined;
  let i = 0;
  while (i < pattern.length) {
    const top = stack[stack.length - 1]!;
    const c = pattern[i]!;
    if (c === '\\' || c === '[') {
      atom = { start: i, height: 0 };
      i = c === '\\' ? escapeEnd(pattern, i) : classEnd(pattern, i);
      continue;
    }
    if (c === '(') {
      const flags = INLINE_FLAGS_OR_COMMENT.exec(pattern.slice(i, i + 256));
      if (flags) {
        atom = undefined;
        i += flags[0].length;
        continue;
      }
      stack.push({ start: i, height: 0 });
      atom = undefined;
      i += GROUP_OPEN.exec(pattern.slice(i, i + 256))![0].length;
      continue;
    }
    if (c === ')' && stack.length > 1) {
      const group = stack.pop()!;
      const parent = stack[stack.length - 1]!;
      parent.height = Math.max(parent.height, group.height);
      atom = group;
      i++;
      continue;
    }
    if (c === '|') {
      atom = undefined;
      i++;
      continue;
    }
    const q = atom ? QUANTIFIER.exec(pattern.slice(i, i + 64)) : null;
    if (q && atom) {
      const unbounded = q[1] !== undefined || (q[2] !== undefined && q[3] === '');
      const height = atom.height + (unbounded ? 1 : 0);
      if (height > 1) return pattern.slice(atom.start, i + q[0].length);
      top.height = Math.max(top.height, height);
      atom = undefined;
      i += q[0].length;
      continue;
    }
    atom = { start: i, height: 0 };
    i++;
  }
  return undefined;
}

/** Every `pattern.Regex` under `value`, with its key path (`pre_tokenizer.pretokenizers[0].pattern.Regex`). */
function* regexes(value: unknown, at: string, depth = 0): Generator<{ at: string; pattern: string }> {
  if (value === null || typeof value !== 'object' || depth > 32) return;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield* regexes(v, `${at}[${i}]`, depth + 1);
    return;
  }
  const obj = value as JsonObject;
  const pattern = obj.pattern as JsonObject | undefined;
  if (pattern && typeof pattern === 'object' && typeof pattern.Regex === 'string') yield { at: `${at}.pattern.Regex`, pattern: pattern.Regex };
  for (const [k, v] of Object.entries(obj)) if (k !== 'pattern') yield* regexes(v, `${at}.${k}`, depth + 1);
}

/**
 * The first regex of a tokenizer.json's normalizer, pre-tokenizer or decoder that nests unbounded
 * repeats, as a message naming `file`, the key and the pattern; undefined when all are safe.
 */
export function catastrophicTokenizerRegex(tokenizerJson: JsonObject, file: string): string | undefined {
  for (const part of ['normalizer', 'pre_tokenizer', 'decoder']) {
    for (const { at, pattern } of regexes(tokenizerJson[part], part)) {
      const nested = nestedQuantifier(pattern);
      if (nested === undefined) continue;
      return (
        `${file}: ${at} holds the pattern ${JSON.stringify(pattern)}, whose ${JSON.stringify(nested)} nests one unbounded repeat inside another; ` +
        "such a pattern takes exponential time on some texts (the process would hang). Refused: use the model's original tokenizer.json, " +
        'or rewrite the pattern without the nested repeat (e.g. (a+)+ as a+)'
      );
    }
  }
  return undefined;
}
