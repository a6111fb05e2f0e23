// What follows every new promotion record, whoever wrote it (a promotion, a rollback, a rollout's
// wave, a recall): the desired state rebuilt and the record's event written.
import type { PromotionRecord } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { refreshDesired } from './desired.ts';
import { recordEvent } from './events.ts';

export const targetName = (environment: string, region: string | null | undefined, group?: string) =>
  `${environment}${group ? `/wave ${group}` : region ? `/${region}` : ''}`;

/**
 * What follows a record: the desired state rebuilt and the event written. Both are idempotent
 * (the event's key derives from the record), so doing it again after a crash repairs, never doubles.
 */
export async function completeMove(services: Services, record: PromotionRecord): Promise<void> {
  await refreshDesired(services.storage, record.app, [record.environment]);
  // Records from before events were derived from them had theirs written at the time; a recall
  // writes one event for all the records it appends.
  if (!record.eventId || record.recall) return;
  const rolledBack = record.kind === 'rollback';
  await recordEvent(
    services,
    {
      type: rolledBack ? 'promotion.rollback' : 'promotion.promoted',
      actor: record.actor,
      app: record.app,
      environment: record.environment,
      region: record.region ?? undefined,
      message: `${record.actor} ${rolledBack ? 'rolled back' : 'promoted'} ${record.app} in ${targetName(record.environment, record.region, record.group)} from ${record.fromVersion ?? 'nothing'} to ${record.toVersion}: ${record.reason}`,
      data: { seq: record.seq, fromVersion: record.fromVersion, toVersion: record.toVersion, kind: record.kind },
      at: record.at,
    },
    record.eventId,
  );
}

