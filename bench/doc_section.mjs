// Rewrites one "## " section of a Markdown file and leaves the others alone (docs/benchmarks.md
// holds sections owned by different benches).

/** `text` with the section headed exactly `heading` replaced by `section` (appended if absent). */
export function replaceSection(text, heading, section) {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  const body = section.replace(/\n+$/, '').split('\n');
  if (start < 0) return `${text.replace(/\n*$/, '\n\n')}${body.join('\n')}\n`;
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end < 0) end = lines.length;
  const after = lines.slice(end);
  return [...lines.slice(0, start), ...body, ...(after.length ? ['', ...after] : [])].join('\n').replace(/\n*$/, '\n');
}
