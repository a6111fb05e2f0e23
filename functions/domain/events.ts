// The audit trail: one event per state change, with its actor.
import type { Event } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { newId } from '../ids.ts';

export type EventInput = Omit<Event, 'id' | 'at'> & { at?: string };

export async function recordEvent(services: Services, input: EventInput): Promise<Event> {
  const now = services.now();
  const event: Event = { ...input, id: newId(now.getTime()), at: input.at ?? now.toISOString() };
  await services.store.putEvent(event);
  return event;
}

export async function recordEvents(services: Services, inputs: EventInput[]): Promise<void> {
  const now = services.now();
  await services.store.putEvents(inputs.map((input) => ({ ...input, id: newId(now.getTime()), at: input.at ?? now.toISOString() })));
}
