// Notification subscriptions (admin): create with an SSRF-checked destination and a secret shown
// once, list, read, delete, rotate the secret (the old one keeps signing for a while), send a test
// message; and their delivery log: pages of deliveries, one delivery, a manual redeliver.
import { createHash } from 'node:crypto';
import type { Delivery, DestinationInput, Subscription, SubscriptionInput } from '../../lib/api/notifications.ts';
import type { Event } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { releaseCommit } from '../notify/github.ts';
import { newWebhookSecret } from '../notify/signing.ts';
import { allowedTargets, checkDestinationUrl } from '../notify/ssrf.ts';
import { collections } from '../storage/keys.ts';
import type { DeliveryRecord, SubscriptionRecord } from '../storage/index.ts';
import type { StoredDestination } from '../storage/notifications.ts';
import { recordEvent } from './events.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from './paging.ts';

/** Subscription and delivery (event) ids: what newId makes. */
const EVENT_ID = /^[0-9a-f]{12,40}$/;

/** A manual redeliver starts a new round of retries, up to this many attempts in all. */
const MAX_LOGGED_ATTEMPTS = 200;

/** What the API shows of a subscription: never a secret, a token or a Slack URL's path. */
export function subscriptionView(record: SubscriptionRecord): Subscription {
  const destination = record.destination;
  return {
    id: record.id,
    name: record.name,
    destination:
      destination.type === 'webhook'
        ? { type: 'webhook', url: destination.url }
        : destination.type === 'slack'
          ? { type: 'slack', host: new URL(destination.url).host }
          : { type: 'github', apiUrl: destination.apiUrl, context: destination.context ?? null, tokenSet: true },
    filter: record.filter,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    secretRotatedAt: record.secretRotatedAt ?? null,
    previousSecretExpiresAt: record.previousSecretExpiresAt ?? null,
  };
}

export function deliveryView(record: DeliveryRecord): Delivery {
  return {
    id: record.eventId,
    subscriptionId: record.subscriptionId,
    eventType: record.eventType,
    state: record.state,
    createdAt: record.createdAt,
    nextAttemptAt: record.state === 'pending' ? record.nextAttemptAt : null,
    deadline: record.deadline,
    attempts: record.attempts,
    event: record.event,
  };
}

async function checkUrl(services: Services, url: string, field: string): Promise<void> {
  const why = await checkDestinationUrl(url, allowedTargets(services.config.notify));
  if (why) throw badRequest(`${field}: refused: ${why}`);
}

function storedDestination(input: DestinationInput): StoredDestination {
  if (input.type === 'github') return { type: 'github', apiUrl: input.apiUrl, token: input.token, ...(input.context ? { context: input.context } : {}) };
  return { type: input.type, url: input.url };
}

/**
 * Creates a subscription. With an Idempotency-Key its id derives from the key: a retry of the
 * same request (its first answer lost) gets the same subscription and secret, and creates none;
 * the key with another request is a 409.
 */
export async function createSubscription(services: Services, actor: string, input: SubscriptionInput, idempotencyKey?: string): Promise<Subscription & { secret: string | null }> {
  const destination = input.destination;
  await checkUrl(services, destination.type === 'github' ? destination.apiUrl : destination.url, destination.type === 'github' ? 'body.destination.apiUrl' : 'body.destination.url');
  const { notifications } = services.storage;
  const id = idempotencyKey === undefined ? newId() : createHash('sha256').update(`subscription ${idempotencyKey}`).digest('hex').slice(0, 32);
  const now = services.now().toISOString();
  const record: SubscriptionRecord = {
    id,
    name: input.name ?? null,
    destination: storedDestination(destination),
    filter: input.filter,
    secret: destination.type === 'webhook' ? newWebhookSecret() : null,
    createdAt: now,
    createdBy: actor,
  };
  const retried = idempotencyKey === undefined ? null : await notifications.getSubscription(id, true);
  if (!retried) {
    const max = services.config.notify.maxSubscriptions;
    if ((await notifications.allSubscriptions()).length >= max) {
      throw conflict(`there are ${max} subscriptions already, the most one organisation may have; delete one first`);
    }
  }
  if (retried || !(await notifications.createSubscription(record))) {
    const first = retried ?? (await notifications.getSubscription(id, true));
    const same = (a: SubscriptionRecord) => JSON.stringify([a.name, a.destination, a.filter]) === JSON.stringify([record.name, record.destination, record.filter]);
    if (idempotencyKey !== undefined && first && same(first)) return { ...subscriptionView(first), secret: first.secret };
    throw conflict(idempotencyKey === undefined ? 'a subscription with this id exists; retry' : 'this Idempotency-Key was used for another subscription');
  }
  await recordEvent(services, {
    type: 'notification.subscribed',
    actor,
    message: `${actor} subscribed a ${destination.type} destination${record.name ? ` (${record.name})` : ''} to notifications`,
    data: { subscription: record.id, destination: destination.type },
  });
  return { ...subscriptionView(record), secret: record.secret };
}

async function existing(services: Services, id: string): Promise<SubscriptionRecord> {
  const record = EVENT_ID.test(id) ? await services.storage.notifications.getSubscription(id, true) : null;
  if (!record) throw notFound(`subscription ${id}`);
  return record;
}

export async function getSubscription(services: Services, id: string): Promise<Subscription> {
  return subscriptionView(await existing(services, id));
}

export async function listSubscriptions(services: Services, page: PageRequest): Promise<Page<Subscription>> {
  const { items, next } = await services.storage.notifications.listSubscriptions(page.limit, decodeCursor(page.cursor, collections.subscriptions));
  return { items: items.map(subscriptionView), nextCursor: encodeCursor(next) };
}

/** Deletes the subscription; its pending deliveries end as cancelled when they come due. Deleting again is a 404. */
export async function deleteSubscription(services: Services, actor: string, id: string): Promise<void> {
  const record = await existing(services, id);
  await services.storage.notifications.deleteSubscription(id);
  await recordEvent(services, {
    type: 'notification.unsubscribed',
    actor,
    message: `${actor} deleted the ${record.destination.type} subscription ${id}`,
    data: { subscription: id },
  });
}

/**
 * A new webhook secret (shown once), the old one signing too for `previousSecretSeconds`; or, for
 * GitHub, a new token. Slack destinations have no secret of their own.
 */
export async function rotateSecret(
  services: Services,
  actor: string,
  id: string,
  input: { previousSecretSeconds: number; githubToken?: string },
): Promise<Subscription & { secret: string | null }> {
  const record = await existing(services, id);
  const now = services.now();
  let updated: SubscriptionRecord;
  if (record.destination.type === 'webhook') {
    if (input.githubToken !== undefined) throw conflict('body.githubToken: only GitHub destinations have a token; this one is a webhook');
    updated = {
      ...record,
      secret: newWebhookSecret(),
      previousSecret: input.previousSecretSeconds > 0 ? record.secret : null,
      previousSecretExpiresAt: input.previousSecretSeconds > 0 ? new Date(now.getTime() + input.previousSecretSeconds * 1000).toISOString() : null,
      secretRotatedAt: now.toISOString(),
    };
  } else if (record.destination.type === 'github') {
    if (input.githubToken === undefined) throw conflict('body.githubToken: required to rotate a GitHub destination (its token is its only secret)');
    updated = { ...record, destination: { ...record.destination, token: input.githubToken }, secretRotatedAt: now.toISOString() };
  } else {
    throw conflict('a Slack destination has no secret to rotate; create a subscription with the new URL and delete this one');
  }
  const fields = { secret: updated.secret, previousSecret: updated.previousSecret ?? null, previousSecretExpiresAt: updated.previousSecretExpiresAt ?? null, secretRotatedAt: updated.secretRotatedAt, destination: updated.destination };
  if (!(await services.storage.notifications.rotateSecret(id, fields, record.secretRotatedAt ?? null))) {
    if (await services.storage.notifications.getSubscription(id, true)) throw conflict(`subscription ${id} was rotated at the same moment by another request; read it and rotate again if need be`);
    throw notFound(`subscription ${id}`);
  }
  await recordEvent(services, { type: 'notification.secret-rotated', actor, message: `${actor} rotated the secret of subscription ${id}`, data: { subscription: id } });
  return { ...subscriptionView(updated), secret: record.destination.type === 'webhook' ? updated.secret : null };
}

/**
 * A notification.test message, through the same queue and retries as any other. A GitHub
 * destination sets a `pending` status on the commit of the release named (`app`, `version`).
 */
export async function sendTest(services: Services, actor: string, id: string, about: { app?: string; version?: string } = {}): Promise<Delivery> {
  const record = await existing(services, id);
  let target: DeliveryRecord['target'] = null;
  if (record.destination.type === 'github') {
    if (about.app === undefined || about.version === undefined) throw badRequest('query.app: a GitHub destination is tested on a release: give ?app=&version=');
    if (!(await services.storage.apps.getRelease(about.app, about.version))) throw notFound(`release ${about.app}@${about.version}`);
    target = await releaseCommit(services.storage, about.app, about.version);
    if (!target) throw conflict(`release ${about.app}@${about.version} has no GitHub source and commit revision to set a status on`);
  }
  const now = services.now();
  const event: Event = {
    id: newId(now.getTime()),
    type: 'notification.test',
    at: now.toISOString(),
    actor,
    ...(target ? { app: about.app, data: { subscription: id, version: about.version } } : { data: { subscription: id } }),
    message: `A test message from Flotilla, sent by ${actor}`,
  };
  const delivery: Omit<DeliveryRecord, 'duePosition'> = {
    subscriptionId: id,
    eventId: event.id,
    eventType: event.type,
    event,
    state: 'pending',
    createdAt: event.at,
    nextAttemptAt: event.at,
    deadline: new Date(now.getTime() + services.config.notify.maxAgeSeconds * 1000).toISOString(),
    attempts: [],
    target,
  };
  await services.storage.notifications.createDelivery(delivery);
  return deliveryView(delivery);
}

export async function listDeliveries(services: Services, id: string, page: PageRequest): Promise<Page<Delivery>> {
  await existing(services, id);
  let start: Record<string, string> | undefined;
  if (page.cursor !== undefined) {
    const eventId = Buffer.from(page.cursor, 'base64url').toString('utf8');
    if (!EVENT_ID.test(eventId)) throw badRequest('query.cursor: not a cursor of this API');
    start = { pk: `SUB#${id}`, sk: `DLV#${eventId}` };
  }
  const { items, next } = await services.storage.notifications.listDeliveries(id, page.limit, start);
  const last = items.at(-1);
  return { items: items.map(deliveryView), nextCursor: next && last ? Buffer.from(last.eventId).toString('base64url') : null };
}

async function existingDelivery(services: Services, id: string, deliveryId: string): Promise<DeliveryRecord> {
  const delivery = EVENT_ID.test(deliveryId) ? await services.storage.notifications.getDelivery(id, deliveryId, true) : null;
  if (!delivery) throw notFound(`delivery ${deliveryId} of subscription ${id}`);
  return delivery;
}

export async function getDelivery(services: Services, id: string, deliveryId: string): Promise<Delivery> {
  await existing(services, id);
  return deliveryView(await existingDelivery(services, id, deliveryId));
}

/** Sends a delivery again now, with a fresh deadline and round of retries (delivered, dead or waiting alike). */
export async function redeliver(services: Services, actor: string, id: string, deliveryId: string): Promise<Delivery> {
  await existing(services, id);
  const delivery = await existingDelivery(services, id, deliveryId);
  if (delivery.attempts.length >= MAX_LOGGED_ATTEMPTS) throw conflict(`delivery ${deliveryId} was attempted ${MAX_LOGGED_ATTEMPTS} times already; send a test message instead`);
  const now = services.now();
  const deadline = new Date(now.getTime() + services.config.notify.maxAgeSeconds * 1000).toISOString();
  if (!(await services.storage.notifications.redeliver(delivery, now.toISOString(), deadline))) {
    throw conflict(`delivery ${deliveryId} is being attempted right now; read it again in a moment`);
  }
  await recordEvent(services, { type: 'notification.redelivered', actor, message: `${actor} redelivered ${delivery.eventType} ${deliveryId} to subscription ${id}`, data: { subscription: id, delivery: deliveryId } });
  return deliveryView({ ...delivery, state: 'pending', nextAttemptAt: now.toISOString(), deadline });
}
