// What follows every new promotion record, whoever wrote it (a promotion, a rollback, a rollout's
// wave, a recall): the desired state rebuilt and the record's event written.
import type { Event, PromotionRecord } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { refreshDesired } from './desired.ts';

export const targetName = (environment: string, region: string | null | undefined, group?: string) =>
  `${environment}${group ? `/wave ${group}` : region ? `/${region}` : ''}`;

/**
 * What follows a record: the desired state rebuilt and the event written. Both are idempotent
 * (the event's key derives from the record), so doing it again after a crash repairs, never doubles.
 */
export function completeMove(services: Services, record: PromotionRecord): Promise<void> {
  return completeMoves(services, [record]);
}

/** completeMove for many records: one rebuild per (app, environment), the events in batches. */
export async function completeMoves(services: Services, records: PromotionRecord[]): Promise<void> {
  const targets = new Map<string, { app: string; environment: string }>();
  for (const record of records) targets.set(`${record.app} ${record.environment}`, { app: record.app, environment: record.environment });
  await Promise.all([...targets.values()].map(({ app, environment }) => refreshDesired(services.storage, app, [environment])));
  // Records from before events were derived from them had theirs written at the time; a recall
  // writes one event for all the records it appends.
  const events = records.filter((record) => record.eventId && !record.recall).map(eventOf);
  if (events.length) await services.storage.events.putMany(events);
}

function eventOf(record: PromotionRecord): Event {
  const rolledBack = record.kind === 'rollback';
  return {
    id: record.eventId!,
    at: record.at,
    type: rolledBack ? 'promotion.rollback' : 'promotion.promoted',
    actor: record.actor,
    app: record.app,
    environment: record.environment,
    ...(record.region ? { region: record.region } : {}),
    message: `${record.actor} ${rolledBack ? 'rolled back' : 'promoted'} ${record.app} in ${targetName(record.environment, record.region, record.group)} from ${record.fromVersion ?? 'nothing'} to ${record.toVersion}: ${record.reason}`,
    data: { seq: record.seq, fromVersion: record.fromVersion, toVersion: record.toVersion, kind: record.kind },
  };
}
