// Human output: aligned tables, relative times and short values. Scripts use --json instead.
import type { DriftEntry, Rollout } from '../lib/api/schemas.ts';
import { truncate } from '../lib/text.ts';

export type Cell = string | number | null | undefined;

export function table(headers: string[], rows: Cell[][]): string {
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

/** A drifted value fits in this many columns, the marker included. */
const MAX_VALUE_COLUMNS = 60;
const CUT_MARKER = '...';

/** A value on one line: as JSON unless a string, cut to MAX_VALUE_COLUMNS. */
export function short(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined) return '<none>';
  return text.length <= MAX_VALUE_COLUMNS ? text : String(truncate(text, MAX_VALUE_COLUMNS - CUT_MARKER.length, CUT_MARKER));
}

export function driftLines(entries: DriftEntry[]): string[] {
  return entries.flatMap((entry) => [
    `  ${entry.object} ${entry.corrected ? '(reverted)' : '(left alone)'}`,
    ...entry.fields.map((field) => `    ${field.path}: ${short(field.before)} -> ${short(field.after)}`),
  ]);
}

/** Where a rollout stands: its first wave not done (`wave canary moving`), or its status once every wave is. */
export function rolloutStage(rollout: Rollout): string {
  const wave = rollout.waves.find((candidate) => candidate.status !== 'done');
  return wave ? `wave ${wave.name} ${wave.status}` : rollout.status;
}
