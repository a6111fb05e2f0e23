// Report-only drift (an app's `drift: report`): an object whose desired content did not change since
// the last apply (same hash in the inventory) but differs in the cluster is reported as drift and left
// as found. Everything else — new objects, objects a new version changed — is applied as usual; an
// object a new version changed is applied whole, so it loses the drift of the fields it sets.
import type { DriftEntry } from '../lib/api/schemas.ts';
import { driftOf } from './drift.ts';
import { entryOf, type Inventory } from './inventory.ts';
import type { AppliedObject, ApplyResult } from './ssa/apply.ts';

export interface ReportOnlySplit {
  /** Objects to apply: unchanged ones (nothing is written for them) and the ones the new version changed or added. */
  toApply: AppliedObject[];
  /** Drifted objects left as found. */
  leftAlone: AppliedObject[];
}

/** Splits a dry-run plan into what is applied and what drifted and is left alone. */
export function splitDrifted(plan: AppliedObject[], previous: Inventory | null): ReportOnlySplit {
  const hashes = new Map(previous?.entries.map((entry) => [entry.id, entry.h]));
  const toApply: AppliedObject[] = [];
  const leftAlone: AppliedObject[] = [];
  for (const item of plan) {
    const { id, h } = entryOf(item.object);
    const drifted = hashes.get(id) === h && (item.entry.action === 'configured' || item.entry.action === 'created');
    (drifted ? leftAlone : toApply).push(item);
  }
  return { toApply, leftAlone };
}

/** Whether anything of the split must be written (else the dry-run plan is the result). */
export function needsWrite(toApply: AppliedObject[]): boolean {
  return toApply.some((item) => item.entry.action !== 'unchanged');
}

/** The dry-run plan of objects that are applied without writing anything. */
export function planned(items: AppliedObject[]): ApplyResult {
  return { objects: items, entries: items.map((item) => item.entry) };
}

/** Drift of the objects left alone, reported as not corrected. */
export function reportedDrift(leftAlone: AppliedObject[], previous: Inventory | null): DriftEntry[] {
  return driftOf(leftAlone, previous, false);
}

/** The status message and condition of a report-only app with drift left in place. */
export function driftReportedNote(count: number): { message: string; condition: { type: string; status: string; reason: string; message: string } } {
  const message = `drift: report — ${count} drifted object(s) reported and left as found (not corrected)`;
  return { message, condition: { type: 'Drifted', status: 'True', reason: 'DriftReported', message } };
}
