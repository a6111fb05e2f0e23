// Notification subscriptions (SUB#<id> / #SUB), their deliveries (SUB#<id> / DLV#<eventId>) and
// the two queues of the byDue index: events not yet fanned out (the event items themselves, see
// storage/events.ts) and deliveries waiting for their next attempt. Single-item conditional writes
// only: a delivery is created once per event and subscription, claimed by a lease, finished by
// the lease holder.
import type { Event } from '../../lib/api/schemas.ts';
import type { DeliveryAttempt, NotificationFilter } from '../../lib/api/notifications.ts';
import { collections, due, keys, prefixes } from './keys.ts';
import { strip, type Item, type Table } from './table.ts';

export type StoredDestination =
  | { type: 'webhook'; url: string }
  | { type: 'slack'; url: string }
  | { type: 'github'; apiUrl: string; token: string; context?: string };

export interface SubscriptionRecord {
  id: string;
  name: string | null;
  destination: StoredDestination;
  filter: NotificationFilter;
  /** Webhooks: the whsec_ secret that signs, and the previous one while a rotation overlaps. */
  secret: string | null;
  previousSecret?: string | null;
  previousSecretExpiresAt?: string | null;
  secretRotatedAt?: string | null;
  createdAt: string;
  createdBy: string;
}

export type DeliveryStateName = 'pending' | 'delivered' | 'dead' | 'cancelled';

export interface DeliveryRecord {
  subscriptionId: string;
  eventId: string;
  eventType: string;
  event: Event;
  state: DeliveryStateName;
  createdAt: string;
  nextAttemptAt: string | null;
  deadline: string;
  attempts: DeliveryAttempt[];
  /** Where the byDue index holds it while pending (`<time>#<sub>#<event>`); a claim moves it to the lease's end. */
  duePosition?: string;
  leaseToken?: string;
  /** Where the attempts of the current round start (a manual redeliver starts a new one). */
  retryFrom?: number;
  /** GitHub destinations: the commit the status is for, resolved when the delivery was created. */
  target?: { owner: string; repo: string; sha: string } | null;
}

const duePosition = (at: string, subscription: string, eventId: string) => `${at}#${subscription}#${eventId}`;

export class NotificationStorage {
  constructor(private readonly table: Table) {}

  // Subscriptions

  async createSubscription(record: SubscriptionRecord): Promise<boolean> {
    return this.table.create({ ...keys.subscription(record.id), type: 'subscription', gsi1pk: collections.subscriptions, gsi1sk: record.id, ...record });
  }

  getSubscription(id: string, consistent = false): Promise<SubscriptionRecord | null> {
    return this.table.get<SubscriptionRecord>(keys.subscription(id), consistent);
  }

  /** Every subscription (bounded by NOTIFY_LIMITS.maxSubscriptions, read in a few pages). */
  allSubscriptions(): Promise<SubscriptionRecord[]> {
    return this.table.collection<SubscriptionRecord>(collections.subscriptions);
  }

  listSubscriptions(limit: number, start?: Item) {
    return this.table.collectionPage<SubscriptionRecord>(collections.subscriptions, { limit, start });
  }

  async deleteSubscription(id: string): Promise<void> {
    await this.table.delete(keys.subscription(id));
  }

  /**
   * New secrets (or token), if the subscription still exists and was not rotated since it was read
   * (`seenRotatedAt`): of two rotations at once one wins, the other is false, and no secret handed
   * out is silently overwritten.
   */
  rotateSecret(
    id: string,
    fields: Partial<Pick<SubscriptionRecord, 'secret' | 'previousSecret' | 'previousSecretExpiresAt' | 'secretRotatedAt' | 'destination'>>,
    seenRotatedAt: string | null,
  ): Promise<boolean> {
    const names = { '#rotated': 'secretRotatedAt' };
    return seenRotatedAt === null
      ? this.table.set(keys.subscription(id), fields, 'attribute_exists(pk) AND (attribute_not_exists(#rotated) OR #rotated = :none)', { names, values: { ':none': null } })
      : this.table.set(keys.subscription(id), fields, 'attribute_exists(pk) AND #rotated = :seen', { names, values: { ':seen': seenRotatedAt } });
  }

  // The outbox: events not yet fanned out

  /** The oldest events still in the outbox. */
  async outbox(limit: number): Promise<Event[]> {
    const { items } = await this.table.queryPage({
      IndexName: 'byDue',
      KeyConditionExpression: 'gsi3pk = :pk',
      ExpressionAttributeValues: { ':pk': due.outbox },
      Limit: limit,
    });
    return items.map((item) => {
      const { eventType, ...rest } = strip<Item>(item);
      return { ...rest, type: eventType } as Event;
    });
  }

  /** The event is fanned out: it leaves the outbox (an event deleted meanwhile is not recreated). */
  async fannedOut(event: Event): Promise<void> {
    await this.table.update(keys.event(event.at, event.id), 'REMOVE #queue, #position', { '#queue': 'gsi3pk', '#position': 'gsi3sk' }, {}, 'attribute_exists(pk)');
  }

  // Deliveries

  /** Creates the delivery once; false when it exists (a fan-out repeated after a crash). */
  createDelivery(delivery: Omit<DeliveryRecord, 'duePosition'>): Promise<boolean> {
    const position = duePosition(delivery.nextAttemptAt!, delivery.subscriptionId, delivery.eventId);
    return this.table.create({
      ...keys.delivery(delivery.subscriptionId, delivery.eventId),
      type: 'delivery',
      gsi3pk: due.deliveries,
      gsi3sk: position,
      duePosition: position,
      ...delivery,
    });
  }

  getDelivery(subscription: string, eventId: string, consistent = false): Promise<DeliveryRecord | null> {
    return this.table.get<DeliveryRecord>(keys.delivery(subscription, eventId), consistent);
  }

  /** Deliveries whose next attempt is due at `now`, oldest first. */
  async dueDeliveries(now: string, limit: number): Promise<DeliveryRecord[]> {
    const { items } = await this.table.queryPage({
      IndexName: 'byDue',
      KeyConditionExpression: 'gsi3pk = :pk AND gsi3sk <= :now',
      ExpressionAttributeValues: { ':pk': due.deliveries, ':now': `${now}~` },
      Limit: limit,
    });
    return items.map((item) => strip<DeliveryRecord>(item));
  }

  /** A subscription's deliveries, newest first, one page. */
  async listDeliveries(subscription: string, limit: number, start?: Item): Promise<{ items: DeliveryRecord[]; next: Item | null }> {
    const { items, lastKey } = await this.table.queryPage({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': keys.subscription(subscription).pk, ':prefix': prefixes.delivery },
      ScanIndexForward: false,
      Limit: limit,
      ExclusiveStartKey: start,
    });
    return { items: items.map((item) => strip<DeliveryRecord>(item)), next: lastKey ?? null };
  }

  /**
   * Claims a due delivery for one attempt: moves it in the index to the end of the lease (so no
   * other dispatcher sees it before then) and logs the attempt as in flight, on the condition that
   * it is still where this dispatcher saw it. False when another one claimed it first.
   */
  claim(delivery: DeliveryRecord, lease: { token: string; until: string }, attempt: DeliveryAttempt): Promise<boolean> {
    const position = duePosition(lease.until, delivery.subscriptionId, delivery.eventId);
    // An attempt still in flight is one whose dispatcher stopped (its lease ran out): logged as lost.
    // The whole log is written: the condition (same position) says nothing changed it since it was read.
    const attempts = delivery.attempts.map((previous) =>
      previous.outcome === 'in-flight' ? { ...previous, outcome: 'failed' as const, error: 'the dispatcher stopped during the attempt; its lease ran out' } : previous,
    );
    const values: Item = { ':position': position, ':token': lease.token, ':attempts': [...attempts, attempt], ':seen': delivery.duePosition, ':pending': 'pending' };
    const expression = 'SET gsi3sk = :position, duePosition = :position, leaseToken = :token, attempts = :attempts';
    return this.table.update(keys.delivery(delivery.subscriptionId, delivery.eventId), expression, { '#state': 'state' }, values, '#state = :pending AND duePosition = :seen');
  }

  /**
   * The lease holder's outcome: the attempt's log entry, and either the next attempt (stays in the
   * index) or the end (delivered, dead, cancelled: leaves it). False when the lease was lost.
   */
  finish(delivery: DeliveryRecord, token: string, attemptIndex: number, attempt: DeliveryAttempt, next: { state: DeliveryStateName; at: string | null }): Promise<boolean> {
    const key = keys.delivery(delivery.subscriptionId, delivery.eventId);
    const values: Item = { ':token': token, ':attempt': attempt, ':state': next.state, ':next': next.at };
    let expression = `SET attempts[${attemptIndex}] = :attempt, #state = :state, nextAttemptAt = :next`;
    if (next.at !== null) {
      values[':position'] = duePosition(next.at, delivery.subscriptionId, delivery.eventId);
      expression += ', gsi3sk = :position, duePosition = :position REMOVE leaseToken';
    } else {
      expression += ' REMOVE gsi3pk, gsi3sk, duePosition, leaseToken';
    }
    return this.table.update(key, expression, { '#state': 'state' }, values, 'leaseToken = :token');
  }

  /**
   * Due again now with a new deadline (a manual redeliver), unless an attempt holds its lease.
   * False when the delivery is being attempted at this moment or is gone.
   */
  redeliver(delivery: DeliveryRecord, now: string, deadline: string): Promise<boolean> {
    const position = duePosition(now, delivery.subscriptionId, delivery.eventId);
    return this.table.update(
      keys.delivery(delivery.subscriptionId, delivery.eventId),
      'SET #state = :pending, gsi3pk = :due, gsi3sk = :position, duePosition = :position, nextAttemptAt = :now, deadline = :deadline, retryFrom = :from REMOVE leaseToken',
      { '#state': 'state' },
      { ':pending': 'pending', ':due': due.deliveries, ':position': position, ':now': now, ':deadline': deadline, ':from': delivery.attempts.length, ':seen': delivery.duePosition ?? null },
      // not pending, or pending between attempts and not claimed since it was read (same position)
      'attribute_exists(pk) AND (#state <> :pending OR (attribute_not_exists(leaseToken) AND duePosition = :seen))',
    );
  }

  /**
   * Drift of one object is sent at most once per window per subscription: true (and the window
   * starts) when none is open.
   */
  openWindow(subscription: string, subject: string, eventId: string, now: string, until: string): Promise<boolean> {
    // The event that opened the window passes again: a fan-out repeated after a crash still delivers it.
    return this.table.putIf(
      { ...keys.debounce(subscription, subject), type: 'debounce', until, eventId },
      'attribute_not_exists(pk) OR #until <= :now OR eventId = :eventId',
      { names: { '#until': 'until' }, values: { ':now': now, ':eventId': eventId } },
    );
  }
}
