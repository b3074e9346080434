// Which files of a hub dataset repository make up a split, by the hub's own conventions (the
// `datasets` library's data_files.py), in its order of precedence:
//   1. README.md's YAML `configs:` (the `default` config, or the only one): `data_files` per split
//   2. sharded names data/<split>-00000-of-00003.parquet (any split name)
//   3. a directory named for the split (train/, data/test-set/ …): keywords below
//   4. a file named for the split (train.jsonl, my_data-validation.parquet …)
//   5. otherwise every data file is the train split
// Keywords: train|training → train; validation|valid|dev|val → validation; test|testing|eval|evaluation
// → test; a keyword counts where a separator (- . _ space, a digit, or /) or the name's end borders it.
import YAML from 'yaml';

/** The data files this package reads (data/read_rows.ts). */
export const DATA_FILE = /\.(parquet|jsonl|ndjson|json)(\.gz)?$/i;

const KEYWORDS: Record<string, string[]> = {
  train: ['train', 'training'],
  validation: ['validation', 'valid', 'dev', 'val'],
  test: ['test', 'testing', 'eval', 'evaluation'],
};
const SEP = '[-._ 0-9]';

/** Files that are never data: README.md, .gitattributes, anything under a dot- or __-directory. */
function candidate(p: string): boolean {
  return !p.split('/').some((part) => part.startsWith('.') || part.startsWith('__')) && p !== 'README.md';
}

/** A glob of `data_files` (`*`, `**`, `?`, `[…]`) as a regular expression over repository paths. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += glob.slice(i, end + 1).replace(/^\[!/, '[^');
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

type DataFilesEntry = string | string[] | Array<{ split?: string; path: string | string[] }>;

/** README.md's `configs:` as {split → globs}, for the default config; undefined when there is none. */
export function readmeSplits(readme: string | undefined): Map<string, string[]> | undefined {
  const m = readme === undefined ? null : /^---\r?\n([\s\S]*?)\r?\n---/.exec(readme);
  if (!m) return undefined;
  let front: { configs?: Array<{ config_name?: string; data_files?: DataFilesEntry; default?: boolean }> };
  try {
    front = (YAML.parse(m[1]!) ?? {}) as typeof front;
  } catch {
    return undefined; // a card the hub itself could not read: fall back to the file names
  }
  const configs = Array.isArray(front.configs) ? front.configs : [];
  const chosen = configs.find((c) => c.default === true) ?? configs.find((c) => c.config_name === 'default') ?? (configs.length === 1 ? configs[0] : undefined);
  if (!chosen?.data_files) return undefined;
  const out = new Map<string, string[]>();
  const df = chosen.data_files;
  if (typeof df === 'string') out.set('train', [df]);
  else if (Array.isArray(df) && df.every((x) => typeof x === 'string')) out.set('train', df as string[]);
  else {
    for (const e of df as Array<{ split?: string; path: string | string[] }>) {
      const globs = typeof e.path === 'string' ? [e.path] : e.path;
      out.set(e.split ?? 'train', [...(out.get(e.split ?? 'train') ?? []), ...globs]);
    }
  }
  return out;
}

function keywordSplit(part: string, split: string): boolean {
  return (KEYWORDS[split] ?? []).some((k) => new RegExp(`(^|${SEP})${k}($|${SEP})`).test(part));
}

export interface SplitFiles {
  /** The split's data files, sorted (shards in order). */
  files: string[];
  /** Every split the repository has, by the same rule. */
  splits: string[];
  /** Which convention decided. */
  rule: 'readme configs' | 'sharded names' | 'directory names' | 'file names' | 'all files';
}

/** The files of `split` among a repository's paths (see the header for the conventions). */
export function splitFiles(paths: readonly string[], split: string, readme?: string): SplitFiles {
  const files = paths.filter(candidate).sort();
  const pick = (rule: SplitFiles['rule'], bySplit: Map<string, string[]>): SplitFiles => ({
    files: bySplit.get(split) ?? [],
    splits: [...bySplit.keys()],
    rule,
  });
  const configured = readmeSplits(readme);
  if (configured) {
    const by = new Map([...configured].map(([s, globs]) => [s, files.filter((f) => globs.some((g) => globRegExp(g).test(f)))]));
    return pick('readme configs', by);
  }
  const sharded = new Map<string, string[]>();
  for (const f of files) {
    const m = /^data\/(.+?)-\d+-of-\d+[^/]*$/.exec(f);
    if (m) sharded.set(m[1]!, [...(sharded.get(m[1]!) ?? []), f]);
  }
  if (sharded.size > 0) return pick('sharded names', sharded);
  const data = files.filter((f) => DATA_FILE.test(f) || /\.(csv|tsv|txt|arrow)$/i.test(f));
  const by = (test: (f: string, s: string) => boolean) => {
    const m = new Map<string, string[]>();
    for (const s of Object.keys(KEYWORDS)) {
      const hit = data.filter((f) => test(f, s));
      if (hit.length) m.set(s, hit);
    }
    return m;
  };
  const byDir = by((f, s) =>
    f
      .split('/')
      .slice(0, -1)
      .some((d) => keywordSplit(d, s)),
  );
  if (byDir.size > 0) return pick('directory names', byDir);
  const byName = by((f, s) => keywordSplit(f.split('/').pop()!, s));
  if (byName.size > 0) return pick('file names', byName);
  return pick('all files', new Map(data.length ? [['train', data]] : []));
}
