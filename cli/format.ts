// Human output: aligned tables and relative times. Scripts use --json instead.
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) => row.map((cell, i) => (cell ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds}s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 129_600) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

export function counts(record: Record<string, number>): string {
  const entries = Object.entries(record);
  return entries.length ? entries.map(([key, n]) => `${key}:${n}`).join(' ') : '-';
}

const short = (value: unknown) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? '<none>' : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

export function driftLines(entries: { object: string; corrected: boolean; fields: { path: string; before: unknown; after: unknown }[] }[]) {
  return entries.flatMap((entry) => [
    `  ${entry.object} ${entry.corrected ? '(reverted)' : '(left alone)'}`,
    ...entry.fields.map((field) => `    ${field.path}: ${short(field.before)} -> ${short(field.after)}`),
  ]);
}
