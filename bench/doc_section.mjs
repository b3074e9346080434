// Rewrites one marked block of a Markdown file and leaves the rest alone: docs/benchmarks.md holds
// blocks written by different benches, each between `<!-- NAME:start … -->` and `<!-- NAME:end -->`.

/** `text` with the block named `name` replaced by `body` (appended when the file has no such block). */
export function replaceMarkedBlock(text, name, body, writer) {
  const start = `<!-- ${name}:start${writer ? ` (written by ${writer})` : ''} -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${body.replace(/\n+$/, '')}\n${end}`;
  const startRe = new RegExp(`^<!-- ${name}:start[^\\n]*-->$`, 'm');
  const s = text.search(startRe);
  const e = text.indexOf(end, s);
  if (s >= 0 && e < 0) throw new Error(`the block "${name}" has a start marker but no "${end}"; fix the file by hand`);
  if (s < 0) return `${text.replace(/\n*$/, '\n\n')}${block}\n`;
  return text.slice(0, s) + block + text.slice(e + end.length);
}
