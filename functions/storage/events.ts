// The audit log (EVENTS#<day> / <at>#<id>), also indexed per app (byCollection EVTAPP#<app>) and
// per cluster (byCluster EVTCLU#<cluster>).
import type { Event } from '../../lib/api/schemas.ts';
import { clusterIndex, collections, eventDayPartition, eventPosition, keys } from './keys.ts';
import { strip, type Item, type QueryInput, type Table } from './table.ts';

export interface EventQuery {
  app?: string;
  cluster?: string;
  environment?: string;
  type?: string;
  /** Event types starting with this, e.g. `drift.`. */
  typePrefix?: string;
  since: string;
  until: string;
  limit: number;
  order: 'asc' | 'desc';
  /** Position of the last event of the previous page (`<at>#<id>`), exclusive. */
  after?: string;
}

/** Pages one event query may read, so a filter that matches nothing cannot read a quarter's events. */
const MAX_EVENT_PAGES = 20;

export class EventStorage {
  constructor(private readonly table: Table) {}

  async put(event: Event): Promise<void> {
    await this.table.put(eventItem(event));
  }

  async putMany(events: Event[]): Promise<void> {
    await this.table.putMany(events.map(eventItem));
  }

  /**
   * Events in a time window. By app or cluster it is one index query; otherwise one query per
   * day partition. Environment and type are filters on top.
   */
  async query(query: EventQuery): Promise<{ events: Event[]; next: string | null }> {
    const filters: string[] = [];
    // The previous page's last position narrows the window on the side the pages move towards;
    // the bound is inclusive, so that one event is dropped again below.
    const from = query.after && query.order === 'asc' ? query.after : query.since;
    const to = query.after && query.order === 'desc' ? query.after : `${query.until}~`;
    const values: Item = { ':from': from, ':to': to };
    const names: Record<string, string> = {};
    if (query.environment) {
      filters.push('#env = :env');
      names['#env'] = 'environment';
      values[':env'] = query.environment;
    }
    if (query.type) {
      filters.push('#eventType = :type');
      names['#eventType'] = 'eventType';
      values[':type'] = query.type;
    }
    if (query.typePrefix) {
      filters.push('begins_with(#eventType, :typePrefix)');
      names['#eventType'] = 'eventType';
      values[':typePrefix'] = query.typePrefix;
    }
    if (query.app && query.cluster) {
      filters.push('#cluster = :cluster');
      names['#cluster'] = 'cluster';
      values[':cluster'] = query.cluster;
    }
    const base = {
      FilterExpression: filters.length ? filters.join(' AND ') : undefined,
      ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
      ScanIndexForward: query.order === 'asc',
    };
    // One more than the page (plus the previous page's last one) tells whether another page follows.
    const wanted = query.limit + 2;
    const run = (input: QueryInput) =>
      this.table.query(
        { ...base, ...input, Limit: wanted, ExpressionAttributeValues: { ...values, ...input.ExpressionAttributeValues } },
        wanted,
        MAX_EVENT_PAGES,
      );

    let items: Item[];
    if (query.app) {
      items = await run({
        IndexName: 'byCollection',
        KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': collections.appEvents(query.app) },
      });
    } else if (query.cluster) {
      items = await run({
        IndexName: 'byCluster',
        KeyConditionExpression: 'gsi2pk = :pk AND gsi2sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': clusterIndex.events(query.cluster) },
      });
    } else {
      items = [];
      const days = eachDay(from, to);
      if (query.order === 'desc') days.reverse();
      for (const day of days) {
        if (items.length >= wanted) break;
        items.push(
          ...(await run({
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
            ExpressionAttributeValues: { ':pk': eventDayPartition(day) },
          })),
        );
      }
    }
    const page = items.filter((item) => item.sk !== query.after);
    const events = page.slice(0, query.limit).map(toEvent);
    const last = events.at(-1);
    return { events, next: page.length > query.limit && last ? eventPosition(last.at, last.id) : null };
  }
}

function eventItem(event: Event): Item {
  const key = keys.event(event.at, event.id);
  // `type` is the entity type of every item; the event's own type is kept as `eventType`.
  const { type: eventType, ...rest } = event;
  return {
    ...key,
    type: 'event',
    ...(event.app ? { gsi1pk: collections.appEvents(event.app), gsi1sk: key.sk } : {}),
    ...(event.cluster ? { gsi2pk: clusterIndex.events(event.cluster), gsi2sk: key.sk } : {}),
    eventType,
    ...rest,
  };
}

function toEvent(item: Item): Event {
  const { eventType, ...rest } = strip<Item>(item);
  return { ...rest, type: eventType } as Event;
}

function eachDay(since: string, until: string): string[] {
  const days: string[] = [];
  const end = until.slice(0, 10);
  for (let day = new Date(since.slice(0, 10) + 'T00:00:00Z'); ; day = new Date(day.getTime() + 86_400_000)) {
    const text = day.toISOString().slice(0, 10);
    if (text > end) break;
    days.push(text);
  }
  return days;
}
