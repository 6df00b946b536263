/** Prints rows as an aligned plain-text table (also valid Markdown). */
export function printTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join(
    '\n',
  );
  console.log(out);
  return out;
}

export const MiB = 1024 * 1024;

export function section(title: string): void {
  console.log(`\n## ${title}\n`);
}
