// Drift is a difference on an object whose desired content did not change since the last apply
// (same hash in the inventory): someone changed the cluster. A difference on an object the new
// version changed is an upgrade, not drift.
import type { DriftEntry } from '../lib/api/schemas.ts';
import { LIMITS } from '../lib/limits.ts';
import { truncate } from '../lib/text.ts';
import { entryOf, type Inventory } from './inventory.ts';
import type { AppliedObject } from './ssa/apply.ts';

/** The drift found by an apply (or a dry-run, when suspended), shaped to fit the API's limits. */
export function driftOf(applied: AppliedObject[], previous: Inventory | null, corrected: boolean): DriftEntry[] {
  if (!previous) return [];
  const hashes = new Map(previous.entries.map((entry) => [entry.id, entry.h]));
  const drift: DriftEntry[] = [];
  for (const { object, entry } of applied) {
    const { id, h } = entryOf(object);
    if (hashes.get(id) !== h) continue;
    if (entry.action === 'configured' && entry.fields) {
      const fields = entry.fields.slice(0, LIMITS.maxDriftFields).map((field) => ({ ...field, before: reported(field.before), after: reported(field.after) }));
      drift.push({ object: entry.subject, fields, corrected });
    } else if (entry.action === 'created') {
      drift.push({ object: entry.subject, fields: [{ path: '/', before: 'absent', after: 'present' }], corrected });
    }
  }
  return drift.slice(0, LIMITS.maxDriftEntries);
}

/** A drifted value as reported: large ones (a whole script in a ConfigMap) are cut, so reports stay small. */
function reported(value: unknown): unknown {
  return truncate(value, LIMITS.maxReportedValueChars);
}

/** Older entries first, each distinct (object, fields) once, at most what a report may carry. */
export function mergeDrift(older: DriftEntry[], newer: DriftEntry[]): DriftEntry[] {
  const seen = new Set<string>();
  const merged: DriftEntry[] = [];
  for (const entry of [...older, ...newer]) {
    const key = entry.object + JSON.stringify(entry.fields);
    if (seen.has(key)) continue;
    seen.add(key);
    merged.push(entry);
  }
  return merged.slice(-LIMITS.maxDriftEntries);
}
