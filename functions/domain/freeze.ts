// The org-wide freeze: no promotion or wave advance while it holds, except by break-glass.
import type { Freeze, FreezeInput, FreezeState } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { badRequest, conflict } from '../errors.ts';
import { newEventId, recordEvent } from './events.ts';

/** The freeze in force now, or null (none, lifted, or past its expiry). */
export async function activeFreeze(services: Services): Promise<Freeze | null> {
  const freeze = await services.storage.freeze.get(true);
  if (!freeze || freeze.lifted) return null;
  if (freeze.until && Date.parse(freeze.until) <= services.now().getTime()) return null;
  return { reason: freeze.reason, by: freeze.by, at: freeze.at, until: freeze.until };
}

export async function getFreeze(services: Services): Promise<FreezeState> {
  const freeze = await activeFreeze(services);
  return { frozen: freeze !== null, freeze };
}

/** Freezes every environment until lifted or `until`; a freeze in force is replaced (its reason and expiry change). */
export async function freeze(services: Services, actor: string, input: FreezeInput): Promise<FreezeState> {
  const now = services.now();
  if (input.until && !(Date.parse(input.until) > now.getTime())) throw badRequest('body.until: must be a time in the future');
  const record = { reason: input.reason, by: actor, at: now.toISOString(), until: input.until ?? null, eventId: newEventId(now) };
  await services.storage.freeze.put(record);
  await recordEvent(
    services,
    { type: 'freeze.started', actor, message: `${actor} froze every environment${record.until ? ` until ${record.until}` : ''}: ${input.reason}`, data: { until: record.until }, at: record.at },
    record.eventId,
  );
  return getFreeze(services);
}

export async function unfreeze(services: Services, actor: string, reason: string): Promise<FreezeState> {
  const now = services.now();
  const lifted = { by: actor, reason, at: now.toISOString(), eventId: newEventId(now) };
  if (!(await activeFreeze(services)) || !(await services.storage.freeze.lift(lifted))) throw conflict('there is no freeze to lift');
  await recordEvent(services, { type: 'freeze.lifted', actor, message: `${actor} lifted the freeze: ${reason}`, at: lifted.at }, lifted.eventId);
  return getFreeze(services);
}
