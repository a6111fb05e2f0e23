// The audit log (EVENTS#<day> / <at>#<id>), also indexed per app (byCollection EVTAPP#<app>) and
// per cluster (byCluster EVTCLU#<cluster>).
import type { Event } from '../../lib/api/schemas.ts';
import { clusterIndex, collections, due, eventDayPartition, eventPosition, keys } from './keys.ts';
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
  /** Where the previous page stopped (an event's `<at>#<id>`, or a day boundary), exclusive. */
  after?: string;
}

/**
 * DynamoDB requests one page of events may make. A page stops there even when it holds fewer
 * than `limit` events (a filter that matches little, a quarter of quiet days); its cursor then
 * continues where the reading stopped, so following cursors always finds every event.
 */
export const MAX_EVENT_REQUESTS = 24;
/** Items one request evaluates when a filter applies (DynamoDB filters after reading). */
const FILTERED_PAGE_ITEMS = 200;
const DAY_MS = 86_400_000;

export class EventStorage {
  constructor(private readonly table: Table) {}

  /** Called after events were written (the local dispatcher wakes up on it). */
  onWrite: (() => void) | undefined;

  async put(event: Event): Promise<void> {
    await this.table.put(eventItem(event));
    this.onWrite?.();
  }

  /** Writes the event unless it is there already (true when written). */
  async createOnce(event: Event): Promise<boolean> {
    const created = await this.table.create(eventItem(event));
    if (created) this.onWrite?.();
    return created;
  }

  async putMany(events: Event[]): Promise<void> {
    await this.table.putMany(events.map(eventItem));
    if (events.length) this.onWrite?.();
  }

  /**
   * Events in a time window, in order. By app or cluster it reads one index partition; otherwise
   * one day partition after another. Environment and type are filters on top. `next` is where the
   * page stopped (null when the window is exhausted).
   */
  async query(query: EventQuery): Promise<{ events: Event[]; next: string | null }> {
    const asc = query.order === 'asc';
    // The previous page's position narrows the window on the side the pages move towards; the
    // bound is inclusive, so an event at exactly that position is dropped below.
    // (clamped: a cursor can narrow the window, never widen it)
    const end = `${query.until}~`;
    const from = query.after && asc && query.after > query.since ? query.after : query.since;
    const to = query.after && !asc && query.after < end ? query.after : end;
    const filter = eventFilter(query);
    const base = {
      ...filter,
      ScanIndexForward: asc,
      Limit: filter.FilterExpression ? FILTERED_PAGE_ITEMS : query.limit + 2,
    };
    const partitions: { input: QueryInput; done: string }[] = query.app
      ? [{ input: { IndexName: 'byCollection', KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to', ExpressionAttributeValues: { ':pk': collections.appEvents(query.app) } }, done: asc ? to : from }]
      : query.cluster
        ? [{ input: { IndexName: 'byCluster', KeyConditionExpression: 'gsi2pk = :pk AND gsi2sk BETWEEN :from AND :to', ExpressionAttributeValues: { ':pk': clusterIndex.events(query.cluster) } }, done: asc ? to : from }]
        : eachDay(from, to, asc).map((day) => ({
            input: { KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to', ExpressionAttributeValues: { ':pk': eventDayPartition(day) } },
            // Past this day in the page's direction: after its last possible key, before its first.
            done: asc ? `${day}T24` : `${day}T00`,
          }));

    const found: Item[] = [];
    let requests = 0;
    let stoppedAt: string | null = null;
    reading: for (const partition of partitions) {
      let start: Item | undefined;
      do {
        if (requests === MAX_EVENT_REQUESTS) {
          stoppedAt = start ? String(start.sk) : positionBefore(partition.done, asc);
          break reading;
        }
        requests++;
        const page = await this.table.queryPage({
          ...base,
          ...partition.input,
          ExpressionAttributeValues: { ...filter.ExpressionAttributeValues, ':from': from, ':to': to, ...partition.input.ExpressionAttributeValues },
          ExclusiveStartKey: start,
        });
        found.push(...page.items.filter((item) => item.sk !== query.after));
        if (found.length > query.limit) break reading;
        start = page.lastKey;
      } while (start);
      stoppedAt = null;
    }
    const events = found.slice(0, query.limit).map(toEvent);
    const last = events.at(-1);
    if (found.length > query.limit && last) return { events, next: eventPosition(last.at, last.id) };
    return { events, next: stoppedAt };
  }
}

/** Where a page that stops before reading a day partition ends: just outside that day, so the next page reads all of it. */
function positionBefore(done: string, asc: boolean): string {
  const day = done.slice(0, 10);
  return asc ? `${day}T00` : `${day}T24`;
}

function eventFilter(query: EventQuery): { FilterExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues: Item } {
  const filters: string[] = [];
  const names: Record<string, string> = {};
  const values: Item = {};
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
  return filters.length
    ? { FilterExpression: filters.join(' AND '), ExpressionAttributeNames: names, ExpressionAttributeValues: values }
    : { ExpressionAttributeValues: values };
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
    // The notification outbox, in the same single-item write: the dispatcher fans the event out
    // into deliveries, then removes these two (storage/notifications.ts).
    gsi3pk: due.outbox,
    gsi3sk: key.sk,
    eventType,
    ...rest,
  };
}

function toEvent(item: Item): Event {
  const { eventType, ...rest } = strip<Item>(item);
  return { ...rest, type: eventType } as Event;
}

/** The day partitions from `from` to `to` (ISO positions), in the page's direction; a bounded count. */
function eachDay(from: string, to: string, asc: boolean): string[] {
  const first = Date.parse(`${from.slice(0, 10)}T00:00:00.000Z`);
  const last = Date.parse(`${to.slice(0, 10)}T00:00:00.000Z`);
  const days: string[] = [];
  // The domain bounds windows to a few months; the cap keeps a bad caller from looping regardless.
  for (let day = first; day <= last && days.length <= 400; day += DAY_MS) days.push(new Date(day).toISOString().slice(0, 10));
  return asc ? days : days.reverse();
}
