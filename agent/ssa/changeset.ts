// The change-set vocabulary every verb of the manager reports in.
import { subjectOf, type ObjectRef } from './objects.ts';

export type Action = 'created' | 'configured' | 'unchanged' | 'deleted' | 'skipped';

export interface DriftedField {
  /** JSON-pointer-like path, e.g. `/spec/replicas` or `/data/password`. */
  path: string;
  before: unknown;
  after: unknown;
}

export interface ChangeSetEntry {
  subject: string;
  ref: ObjectRef;
  action: Action;
  /** Fields that differ between the live object and the desired one (values masked for Secrets). */
  fields?: DriftedField[];
  /** Why an object was skipped or recreated. */
  message?: string;
}

export function entryFor(ref: ObjectRef, action: Action, extra: Partial<ChangeSetEntry> = {}): ChangeSetEntry {
  return { subject: subjectOf(ref), ref, action, ...extra };
}

/** `{created: 2, unchanged: 5}`; the counts an app report carries. */
export function countActions(entries: ChangeSetEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of entries) counts[entry.action] = (counts[entry.action] ?? 0) + 1;
  return counts;
}
