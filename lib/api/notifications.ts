// The notifications contract: the event types one can subscribe to (with their severity), the
// subscription and delivery bodies of /v1/notifications/*, and the payload a webhook receives.
// Beside schemas.ts, not inside it, so the notification routes and the dashboard edit apart.
import { z } from '@hono/zod-openapi';
import { Event, Name, isReservedKey } from './schemas.ts';

export const Severity = z.enum(['info', 'warning', 'critical']);
export type Severity = z.infer<typeof Severity>;

/**
 * The `data` of each family of events, as the control plane writes it: the fields named are
 * always of these types (absent when not known); more may be added, never changed.
 */
export const EVENT_DATA = {
  release: z.looseObject({ version: z.string(), digest: z.string().optional(), reason: z.string().optional() }).openapi('ReleaseEventData'),
  promotion: z
    .looseObject({ seq: z.number().int(), fromVersion: z.union([z.string(), z.null()]).optional(), toVersion: z.string(), kind: z.enum(['promote', 'rollback', 'auto', 'break-glass']) })
    .openapi('PromotionEventData'),
  rollout: z.looseObject({ rollout: z.string(), version: z.string(), wave: z.string().optional(), by: z.string().optional() }).openapi('RolloutEventData'),
  drift: z
    .looseObject({
      object: z.string().openapi({ description: 'Kind/namespace/name' }),
      version: z.string().optional(),
      fields: z.array(z.looseObject({ path: z.string(), before: z.unknown(), after: z.unknown() })).openapi({ description: "Changed fields; a Secret's values are masked" }),
    })
    .openapi('DriftEventData'),
  reconcile: z.looseObject({ version: z.string().optional(), digest: z.string().optional(), reason: z.string().optional(), message: z.string().optional() }).openapi('ReconcileEventData'),
  stale: z.looseObject({ lastSeen: z.string(), staleAfterSeconds: z.number() }).openapi('ClusterStaleEventData'),
  until: z.looseObject({ until: z.union([z.string(), z.null()]).optional() }).openapi('UntilEventData'),
  other: z.record(z.string(), z.unknown()),
} as const;

/** Every event type a subscription can ask for, its severity and what it means. Stable: types are added, never renamed. */
export const EVENT_TYPES = {
  'release.published': ['info', 'A release was registered', 'release'],
  'release.blocked': ['warning', 'A release was blocked', 'release'],
  'release.unblocked': ['info', 'A release was unblocked', 'release'],
  'release.recalled': ['critical', 'A blocked release was recalled: every pin holding it moved back', 'release'],
  'release.approved': ['info', 'A release was approved for an environment', 'release'],
  'promotion.promoted': ['info', 'A pin moved forward (promotion, auto, break-glass)', 'promotion'],
  'promotion.rollback': ['warning', 'A pin moved back (rollback)', 'promotion'],
  'rollout.started': ['info', 'A rollout started', 'rollout'],
  'rollout.wave-moved': ['info', 'A wave of a rollout moved to the new version', 'rollout'],
  'rollout.completed': ['info', 'A rollout completed', 'rollout'],
  'rollout.halted': ['critical', 'A wave failed and halted its rollout', 'rollout'],
  'rollout.rolled-back': ['critical', 'A halted rollout moved its waves back', 'rollout'],
  'rollout.paused': ['warning', 'A rollout was paused', 'rollout'],
  'rollout.resumed': ['info', 'A rollout was resumed', 'rollout'],
  'rollout.aborted': ['warning', 'A rollout was aborted', 'rollout'],
  'rollout.superseded': ['info', 'A newer promotion replaced a rollout', 'rollout'],
  'rollout.recalled': ['critical', 'A rollout stopped because its release was recalled', 'rollout'],
  'drift.detected': ['warning', 'An object drifted from its desired state (debounced per object and subscription)', 'drift'],
  'drift.corrected': ['info', 'The agent reverted a drifted object', 'drift'],
  'reconcile.failed': ['critical', 'An app failed to reconcile on a cluster', 'reconcile'],
  'reconcile.ready': ['info', 'An app became Ready on a cluster (or Ready at a new version)', 'reconcile'],
  'reconcile.removed': ['info', 'An app left a cluster', 'reconcile'],
  'cluster.stale': ['warning', 'A cluster has not checked in for the stale window', 'stale'],
  'cluster.suspended': ['warning', 'Reconciliation was suspended on a cluster (or for one app)', 'until'],
  'cluster.resumed': ['info', 'Reconciliation was resumed', 'until'],
  'cluster.created': ['info', 'A cluster was declared', 'other'],
  'cluster.registered': ['info', "A cluster's agent registered", 'other'],
  'cluster.revoked': ['warning', "A cluster's agent was revoked", 'other'],
  'freeze.started': ['warning', 'Every environment was frozen', 'until'],
  'freeze.lifted': ['info', 'The freeze was lifted', 'until'],
  'policy.updated': ['info', "An app's policy in an environment changed", 'other'],
  'notification.test': ['info', 'A test message sent by POST /v1/notifications/subscriptions/{id}/test', 'other'],
} as const satisfies Record<string, readonly [Severity, string, keyof typeof EVENT_DATA]>;
export type NotificationEventType = keyof typeof EVENT_TYPES;
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as NotificationEventType[];

export const isNotificationEventType = (type: string): type is NotificationEventType => Object.hasOwn(EVENT_TYPES, type);
export const severityOf = (type: string): Severity => (isNotificationEventType(type) ? EVENT_TYPES[type][0] : 'info');
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export const NOTIFY_LIMITS = {
  maxSubscriptions: 100,
  maxFilterEntries: 50,
  maxUrlChars: 2048,
  maxDeliveriesPerPage: 100,
} as const;

/** `release.published`, or a family `drift.*`; anything else is a mistake named in the 400. */
const EventTypeFilter = z
  .string()
  .max(64)
  .refine(
    (type) => isNotificationEventType(type) || (type.endsWith('.*') && EVENT_TYPE_NAMES.some((name) => name.startsWith(type.slice(0, -1)))),
    'is not an event type (GET /v1/notifications/event-types lists them; a family is written drift.*)',
  )
  .openapi({ example: 'reconcile.failed', enum: [...EVENT_TYPE_NAMES, ...new Set(EVENT_TYPE_NAMES.map((name) => `${name.split('.')[0]}.*`))] });

const names = (what: string) => z.array(Name).max(NOTIFY_LIMITS.maxFilterEntries).optional().openapi({ description: `Only events of these ${what} (any when absent)` });

export const NotificationFilter = z
  .object({
    types: z.array(EventTypeFilter).min(1).max(NOTIFY_LIMITS.maxFilterEntries).optional().openapi({ description: 'Event types or families (drift.*); every type when absent' }),
    apps: names('apps'),
    environments: names('environments'),
    clusters: names('clusters'),
    severity: Severity.optional().openapi({ description: 'The lowest severity sent (info when absent)' }),
  })
  .strict()
  .openapi('NotificationFilter');
export type NotificationFilter = z.infer<typeof NotificationFilter>;

const Url = z
  .string()
  .max(NOTIFY_LIMITS.maxUrlChars)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials')
  .openapi({ format: 'uri', example: 'https://hooks.example.com/flotilla' });

const GithubContext = z.string().min(1).max(100).regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');

export const DestinationInput = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('webhook'), url: Url }).strict(),
    z.object({ type: z.literal('slack'), url: Url.openapi({ description: 'A Slack incoming-webhook URL (kept secret: the API shows its host only)' }) }).strict(),
    z
      .object({
        type: z.literal('github'),
        token: z.string().min(1).max(512).regex(/^[\x21-\x7e]+$/, 'must be a GitHub token').openapi({ description: 'A token with commit-status rights; stored as a secret, never returned' }),
        apiUrl: Url.default('https://api.github.com').openapi({ description: 'GitHub Enterprise: https://<host>/api/v3' }),
        context: GithubContext.optional().openapi({ description: 'The status context (default flotilla/<environment>)' }),
      })
      .strict(),
  ])
  .openapi('NotificationDestinationInput');
export type DestinationInput = z.infer<typeof DestinationInput>;

export const Destination = z
  .union([
    z.object({ type: z.literal('webhook'), url: z.string() }),
    z.object({ type: z.literal('slack'), host: z.string() }),
    z.object({ type: z.literal('github'), apiUrl: z.string(), context: z.union([z.string(), z.null()]), tokenSet: z.literal(true) }),
  ])
  .openapi('NotificationDestination');

export const SubscriptionInput = z
  .object({
    name: z.string().min(1).max(128).refine((name) => !isReservedKey(name), 'is a reserved word').optional(),
    destination: DestinationInput,
    filter: NotificationFilter.default({}),
  })
  .strict()
  .openapi('SubscriptionInput');
export type SubscriptionInput = z.infer<typeof SubscriptionInput>;

export const Subscription = z
  .object({
    id: z.string(),
    name: z.union([z.string(), z.null()]),
    destination: Destination,
    filter: NotificationFilter,
    createdAt: z.string(),
    createdBy: z.string(),
    /** Webhooks: when the secret was last rotated and until when the previous one still signs. */
    secretRotatedAt: z.union([z.string(), z.null()]),
    previousSecretExpiresAt: z.union([z.string(), z.null()]),
  })
  .openapi('Subscription');
export type Subscription = z.infer<typeof Subscription>;

export const CreatedSubscription = Subscription.extend({
  secret: z.union([z.string(), z.null()]).openapi({ description: 'Webhooks: the whsec_ signing secret, shown once' }),
}).openapi('CreatedSubscription');

export const RotateSecretInput = z
  .object({
    previousSecretSeconds: z.number().int().min(0).max(7 * 86400).default(86400).openapi({ description: 'How long the old secret keeps signing too (both signatures are sent)' }),
    githubToken: z.string().min(1).max(512).regex(/^[\x21-\x7e]+$/, 'must be a GitHub token').optional().openapi({ description: 'GitHub destinations: the new token' }),
  })
  .strict()
  .openapi('RotateSecretInput');

/** `?app=&version=`: for a GitHub destination, the release whose commit gets the test status. */
export const TestQuery = z.object({
  app: Name.optional().openapi({ description: 'GitHub destinations: the app of the release whose commit gets the test status' }),
  version: z.string().min(1).max(128).optional().openapi({ description: 'GitHub destinations: the version of that release' }),
});

export const DeliveryAttempt = z
  .object({
    n: z.number().int(),
    at: z.string(),
    outcome: z.enum(['in-flight', 'delivered', 'failed']),
    statusCode: z.union([z.number().int(), z.null()]),
    latencyMs: z.union([z.number(), z.null()]),
    error: z.union([z.string(), z.null()]),
  })
  .openapi('DeliveryAttempt');
export type DeliveryAttempt = z.infer<typeof DeliveryAttempt>;

export const DeliveryState = z.enum(['pending', 'delivered', 'dead', 'cancelled']);
export const Delivery = z
  .object({
    id: z.string().openapi({ description: 'The event id: also the webhook-id header, the same on every retry' }),
    subscriptionId: z.string(),
    eventType: z.string(),
    state: DeliveryState,
    createdAt: z.string(),
    nextAttemptAt: z.union([z.string(), z.null()]),
    deadline: z.string().openapi({ description: 'Retries stop (dead letter) after this' }),
    attempts: z.array(DeliveryAttempt),
    event: Event,
  })
  .openapi('Delivery');
export type Delivery = z.infer<typeof Delivery>;

export const EventTypeInfo = z.object({ type: z.string(), severity: Severity, description: z.string() }).openapi('NotificationEventType');

/** What a generic webhook receives (Standard Webhooks: type, timestamp, data), one shape per event type. */
export const WebhookPayload = z
  .discriminatedUnion(
    'type',
    EVENT_TYPE_NAMES.map((type) =>
      z.object({
        type: z.literal(type),
        timestamp: z.string().openapi({ format: 'date-time' }),
        severity: z.literal(EVENT_TYPES[type][0]),
        data: Event.extend({ type: z.literal(type), data: EVENT_DATA[EVENT_TYPES[type][2]].optional() }),
        links: z.object({ dashboard: z.union([z.string(), z.null()]) }),
      }),
    ) as unknown as [z.ZodObject, ...z.ZodObject[]],
  )
  .openapi('WebhookPayload');
export type WebhookPayload = { type: NotificationEventType; timestamp: string; severity: Severity; data: Event; links: { dashboard: string | null } };
