// The events page: the audit log filtered by app, environment, cluster, type and time, newest
// first, a bounded page at a time with the API's cursor.
import { z } from 'zod';
import type { Event } from '../../../lib/api/schemas.ts';
import { listEvents } from '../../domain/events.ts';
import { badRequest } from '../../errors.ts';
import { cursorParam, nameQuery, type UiContext } from '../context.ts';
import { Head, NextPage, Page, Time, clip } from '../layout.tsx';

export const EVENTS_PER_PAGE = 50;
const EventType = z.string().max(64).regex(/^[a-z][a-z0-9.-]*$/, 'must be an event type such as promotion.created');

/** An ISO time, or a datetime-local field's value (minutes, no zone), read as UTC. */
function timeQuery(c: UiContext, key: string): string | undefined {
  const value = c.req.query(key)?.trim();
  if (!value) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value) ? `${value}:00Z` : value;
  if (!z.iso.datetime({ offset: true }).safeParse(iso).success || Number.isNaN(Date.parse(iso))) {
    throw badRequest(`${key}: must be a time such as 2026-12-01T09:00:00Z`);
  }
  return new Date(iso).toISOString();
}

export async function eventsPage(c: UiContext) {
  const type = c.req.query('type') || undefined;
  if (type !== undefined && !EventType.safeParse(type).success) throw badRequest('type: must be an event type such as promotion.created');
  const filters = {
    app: nameQuery(c, 'app'),
    environment: nameQuery(c, 'environment'),
    cluster: nameQuery(c, 'cluster'),
    type,
    since: timeQuery(c, 'since'),
    until: timeQuery(c, 'until'),
  };
  const page = await listEvents(c.get('services'), { ...filters, limit: EVENTS_PER_PAGE, order: 'desc', cursor: cursorParam(c) });
  return c.html(
    <Page title="Events" viewer={c.get('viewer')}>
      <form class="filters" method="get" action="/ui/events">
        {(['app', 'environment', 'cluster', 'type'] as const).map((key) => (
          <label>
            {key[0]!.toUpperCase() + key.slice(1)}
            <input name={key} value={filters[key] ?? ''} maxlength={64} />
          </label>
        ))}
        <label>
          Since (UTC)
          <input name="since" value={filters.since ?? ''} placeholder="default: 7 days before until" maxlength={40} />
        </label>
        <label>
          Until (UTC)
          <input name="until" value={filters.until ?? ''} placeholder="default: now" maxlength={40} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <EventTable events={page.items} />
      <NextPage base="/ui/events" params={filters} cursor={page.nextCursor} label="Older events →" />
    </Page>,
  );
}

function EventTable({ events }: { events: Event[] }) {
  if (events.length === 0) return <p class="notice">No events on this page for these filters (a page may end early; follow “Older events” if shown).</p>;
  return (
    <table>
      <Head columns={['When', 'Type', 'Actor', 'Where', 'What']} />
      <tbody>
        {events.map((event) => (
          <tr>
            <td>
              <Time at={event.at} />
            </td>
            <td>
              <code>{event.type}</code>
            </td>
            <td>{event.actor}</td>
            <td>
              {event.app && <a href={`/ui/apps/${event.app}`}>{event.app}</a>} {event.environment ?? ''}
              {event.region ? `/${event.region}` : ''} {event.cluster && <a href={`/ui/clusters/${event.cluster}`}>{event.cluster}</a>}
            </td>
            <td>{clip(event.message, 300)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
