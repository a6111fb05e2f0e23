// The audit trail: one event per state change, with its actor; and reading it back in pages.
import type { Event } from '../../lib/api/schemas.ts';
import { LIMITS } from '../../lib/limits.ts';
import type { Services } from '../context.ts';
import { badRequest } from '../errors.ts';
import { newId } from '../ids.ts';
import type { EventQuery } from '../storage/index.ts';

export type EventInput = Omit<Event, 'id' | 'at'> & { at?: string };

const DAY_MS = 86_400_000;
/** Without `since`, the log is read this far back from `until`. */
const DEFAULT_WINDOW_DAYS = 7;

function stamp(input: EventInput, now: Date): Event {
  return { ...input, id: newId(now.getTime()), at: input.at ?? now.toISOString() };
}

/**
 * Records the event of a state change. The event of a change that is itself stored (a promotion
 * record, a release, a block, a revocation…) carries the id and time the stored change was given
 * when it was first written (`newEventId`), so its key is the same every time it is written: a retry
 * after a crash writes it again and there is still exactly one.
 */
export async function recordEvent(services: Services, input: EventInput, id?: string): Promise<Event> {
  const event = id === undefined || input.at === undefined ? stamp(input, services.now()) : { ...input, at: input.at, id };
  await services.storage.events.put(event);
  return event;
}

/** The id a stored change's event will have, given when the change is first written. */
export const newEventId = (at: Date) => newId(at.getTime());

export async function recordEvents(services: Services, inputs: EventInput[]): Promise<void> {
  const now = services.now();
  await services.storage.events.putMany(inputs.map((input) => stamp(input, now)));
}

export interface EventListQuery extends Pick<EventQuery, 'app' | 'environment' | 'cluster' | 'type' | 'limit' | 'order'> {
  since?: string;
  until?: string;
  cursor?: string;
}

/** The years the audit log can be asked about: anything else is a mistake, not a query. */
const EARLIEST = Date.parse('2000-01-01T00:00:00.000Z');
const LATEST = Date.parse('2100-01-01T00:00:00.000Z');

/**
 * One page of the audit log in a bounded window; `nextCursor` continues it. A page reads a bounded
 * number of partitions and items, so it may hold fewer than `limit` events and still have a cursor.
 */
export async function listEvents(services: Services, query: EventListQuery): Promise<{ items: Event[]; nextCursor: string | null }> {
  const until = query.until ? new Date(query.until) : services.now();
  const since = query.since ? new Date(query.since) : new Date(until.getTime() - DEFAULT_WINDOW_DAYS * DAY_MS);
  for (const [field, time] of [['until', until], ['since', since]] as const) {
    if (!(time.getTime() >= EARLIEST && time.getTime() < LATEST)) throw badRequest(`query.${field}: must be a time from 2000 to 2099`);
  }
  if (since > until) throw badRequest('query.since: must not be after until');
  if (until.getTime() - since.getTime() > LIMITS.maxEventWindowDays * DAY_MS) {
    throw badRequest(`query.since: the window may span at most ${LIMITS.maxEventWindowDays} days`);
  }
  const window = { since: since.toISOString(), until: until.toISOString() };
  const { events, next } = await services.storage.events.query({
    ...query,
    ...window,
    after: query.cursor === undefined ? undefined : decodeCursor(query.cursor, window),
  });
  return { items: events, nextCursor: next === null ? null : Buffer.from(next).toString('base64url') };
}

/** An event's position `<at>#<id>`, or a day boundary `<day>T00` / `<day>T24` where a page stopped. */
const POSITION = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{12,40}|T00|T24)$/;

/** A cursor is a position in the window, base64url-encoded; one from other filters or a forged one is refused. */
function decodeCursor(cursor: string, window: { since: string; until: string }): string {
  const position = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = POSITION.exec(position);
  const day = match ? Date.parse(`${match[1]}T00:00:00.000Z`) : NaN;
  if (!match || Number.isNaN(day) || new Date(day).toISOString().slice(0, 10) !== match[1]) {
    throw badRequest('query.cursor: not a cursor of this API');
  }
  // A day boundary lies in the window's days; an event's position in the window itself.
  const boundary = match[2] === 'T00' || match[2] === 'T24';
  const outside = boundary
    ? match[1]! < window.since.slice(0, 10) || match[1]! > window.until.slice(0, 10)
    : position < window.since || position > `${window.until}~`;
  if (outside) throw badRequest('query.cursor: outside the since/until window of this query; pass the same filters as for the first page');
  return position;
}
