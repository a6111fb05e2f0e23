// Notifications (admin): the event types, subscriptions (webhook, Slack, GitHub), their secrets,
// a test message, and each subscription's delivery log with a manual redeliver.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import {
  CreatedSubscription,
  Delivery,
  EVENT_TYPES,
  EventTypeInfo,
  NOTIFY_LIMITS,
  RotateSecretInput,
  Subscription,
  SubscriptionInput,
  TestQuery,
  WebhookPayload,
} from '../../lib/api/notifications.ts';
import { list } from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv } from '../context.ts';
import {
  createSubscription,
  deleteSubscription,
  getDelivery,
  getSubscription,
  listDeliveries,
  listSubscriptions,
  redeliver,
  rotateSecret,
  sendTest,
} from '../domain/subscriptions.ts';
import { Cursor, PageQuery, bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';

const TAG = ['notifications'];
// Ids are checked loosely here (an unknown one is a 404 from the handler, after authorization).
const Id = (what: string) => z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, `must be a ${what} id`);
const SubscriptionParams = z.object({ id: Id('subscription') });
const DeliveryParams = SubscriptionParams.extend({ delivery: Id('delivery') });
const DeliveryPageQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(NOTIFY_LIMITS.maxDeliveriesPerPage)
    .default(20)
    .openapi({ description: `Deliveries per page (default 20, at most ${NOTIFY_LIMITS.maxDeliveriesPerPage}), newest first` }),
  cursor: Cursor.optional().openapi({ description: 'nextCursor of the previous page' }),
});

/** A retried create with the same key gets the subscription (and secret) of its first attempt. */
const CreateHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[A-Za-z0-9._:-]{8,128}$/, 'must be 8 to 128 of A-Z, a-z, 0-9, . _ : -')
    .optional()
    .openapi({ description: 'A retry with this key returns the subscription its first attempt created' }),
});

const eventTypes = createRoute({
  method: 'get',
  path: '/v1/notifications/event-types',
  tags: TAG,
  summary: 'The event types a subscription can ask for, with their severity (payload: the WebhookPayload schema)',
  security: bearerSecurity,
  responses: { 200: jsonResponse(z.object({ items: z.array(EventTypeInfo) }), 'Event types'), ...errorResponses() },
});

const create = createRoute({
  method: 'post',
  path: '/v1/notifications/subscriptions',
  tags: TAG,
  summary: 'Subscribe a webhook, Slack or GitHub destination to events (admin); a webhook secret is shown once',
  security: bearerSecurity,
  request: { headers: CreateHeaders, body: jsonBody(SubscriptionInput) },
  responses: { 201: jsonResponse(CreatedSubscription, 'The subscription, with its secret this once (and to a retry with its Idempotency-Key)'), ...errorResponses(409) },
});

const listRoute = createRoute({
  method: 'get',
  path: '/v1/notifications/subscriptions',
  tags: TAG,
  summary: 'List subscriptions (admin); secrets and tokens are never shown',
  security: bearerSecurity,
  request: { query: PageQuery },
  responses: { 200: jsonResponse(list(Subscription, 'SubscriptionList'), 'Subscriptions'), ...errorResponses() },
});

const getRoute = createRoute({
  method: 'get',
  path: '/v1/notifications/subscriptions/{id}',
  tags: TAG,
  summary: 'One subscription (admin)',
  security: bearerSecurity,
  request: { params: SubscriptionParams },
  responses: { 200: jsonResponse(Subscription, 'The subscription'), ...errorResponses(404) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/v1/notifications/subscriptions/{id}',
  tags: TAG,
  summary: 'Delete a subscription (admin); its pending deliveries are cancelled',
  security: bearerSecurity,
  request: { params: SubscriptionParams },
  responses: { 200: jsonResponse(z.object({ id: z.string(), deleted: z.literal(true) }), 'Deleted'), ...errorResponses(404) },
});

const rotate = createRoute({
  method: 'post',
  path: '/v1/notifications/subscriptions/{id}/rotate-secret',
  tags: TAG,
  summary: 'A new webhook secret, shown once; the old one keeps signing (a second signature) for previousSecretSeconds. GitHub: a new token (admin)',
  security: bearerSecurity,
  request: { params: SubscriptionParams, body: jsonBody(RotateSecretInput) },
  responses: { 200: jsonResponse(CreatedSubscription, 'The subscription, with its new secret this once'), ...errorResponses(404, 409) },
});

const test = createRoute({
  method: 'post',
  path: '/v1/notifications/subscriptions/{id}/test',
  tags: TAG,
  summary: 'Queue a notification.test message to the destination; a GitHub one sets a pending status on the commit of the release named (admin)',
  security: bearerSecurity,
  request: { params: SubscriptionParams, query: TestQuery },
  responses: { 202: jsonResponse(Delivery, 'The queued delivery; read it back for its attempts'), ...errorResponses(404, 409) },
});

const deliveries = createRoute({
  method: 'get',
  path: '/v1/notifications/subscriptions/{id}/deliveries',
  tags: TAG,
  summary: "A subscription's deliveries, newest first, each with every attempt (status, response code, latency) (admin)",
  security: bearerSecurity,
  request: { params: SubscriptionParams, query: DeliveryPageQuery },
  responses: { 200: jsonResponse(list(Delivery, 'DeliveryList'), 'Deliveries'), ...errorResponses(404) },
});

const deliveryRoute = createRoute({
  method: 'get',
  path: '/v1/notifications/subscriptions/{id}/deliveries/{delivery}',
  tags: TAG,
  summary: 'One delivery and its attempts (admin)',
  security: bearerSecurity,
  request: { params: DeliveryParams },
  responses: { 200: jsonResponse(Delivery, 'The delivery'), ...errorResponses(404) },
});

const redeliverRoute = createRoute({
  method: 'post',
  path: '/v1/notifications/subscriptions/{id}/deliveries/{delivery}/redeliver',
  tags: TAG,
  summary: 'Send a delivery again now (delivered, dead-lettered or waiting), with a new round of retries (admin)',
  security: bearerSecurity,
  request: { params: DeliveryParams },
  responses: { 202: jsonResponse(Delivery, 'The delivery, due now'), ...errorResponses(404, 409) },
});

export function registerNotificationRoutes(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.register('WebhookPayload', WebhookPayload);
  // What a webhook subscription receives (OpenAPI 3.1 `webhooks`).
  app.openAPIRegistry.registerWebhook({
    method: 'post',
    path: 'flotillaEvent',
    summary: 'An event, signed per Standard Webhooks; any 2xx acknowledges it, anything else is retried',
    request: {
      headers: z.object({
        'webhook-id': z.string().openapi({ description: 'The event id: the same on every retry' }),
        'webhook-timestamp': z.string().openapi({ description: 'Unix seconds of this attempt' }),
        'webhook-signature': z.string().openapi({ description: 'v1,<base64 HMAC-SHA256 of "id.timestamp.body">, one per signing secret, space-separated' }),
      }),
      body: jsonBody(WebhookPayload),
    },
    responses: { 200: { description: 'Received' } },
  });

  app.openapi(eventTypes, function notificationEventTypesHandler(c) {
    authorize(c, 'admin');
    return c.json({ items: Object.entries(EVENT_TYPES).map(([type, [severity, description]]) => ({ type, severity, description })) }, 200);
  });

  app.openapi(create, async function createSubscriptionHandler(c) {
    const actor = authorize(c, 'admin');
    return c.json(await createSubscription(c.get('services'), actor, c.req.valid('json'), c.req.valid('header')['idempotency-key']), 201);
  });

  app.openapi(listRoute, async function listSubscriptionsHandler(c) {
    authorize(c, 'admin');
    return c.json(await listSubscriptions(c.get('services'), c.req.valid('query')), 200);
  });

  app.openapi(getRoute, async function getSubscriptionHandler(c) {
    authorize(c, 'admin');
    return c.json(await getSubscription(c.get('services'), c.req.valid('param').id), 200);
  });

  app.openapi(deleteRoute, async function deleteSubscriptionHandler(c) {
    const actor = authorize(c, 'admin');
    const { id } = c.req.valid('param');
    await deleteSubscription(c.get('services'), actor, id);
    return c.json({ id, deleted: true as const }, 200);
  });

  app.openapi(rotate, async function rotateSecretHandler(c) {
    const actor = authorize(c, 'admin');
    return c.json(await rotateSecret(c.get('services'), actor, c.req.valid('param').id, c.req.valid('json')), 200);
  });

  app.openapi(test, async function testSubscriptionHandler(c) {
    const actor = authorize(c, 'admin');
    return c.json(await sendTest(c.get('services'), actor, c.req.valid('param').id, c.req.valid('query')), 202);
  });

  app.openapi(deliveries, async function listDeliveriesHandler(c) {
    authorize(c, 'admin');
    return c.json(await listDeliveries(c.get('services'), c.req.valid('param').id, c.req.valid('query')), 200);
  });

  app.openapi(deliveryRoute, async function getDeliveryHandler(c) {
    authorize(c, 'admin');
    const { id, delivery } = c.req.valid('param');
    return c.json(await getDelivery(c.get('services'), id, delivery), 200);
  });

  app.openapi(redeliverRoute, async function redeliverHandler(c) {
    const actor = authorize(c, 'admin');
    const { id, delivery } = c.req.valid('param');
    return c.json(await redeliver(c.get('services'), actor, id, delivery), 202);
  });
}
