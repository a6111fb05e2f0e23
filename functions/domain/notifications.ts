// The rules of notifications, pure: which subscriptions want an event, when a failed delivery is
// tried again, what a webhook receives and which dashboard page an event links to.
import type { Event } from '../../lib/api/schemas.ts';
import { SEVERITY_RANK, isNotificationEventType, severityOf, type NotificationFilter, type WebhookPayload } from '../../lib/api/notifications.ts';
import type { NotifyConfig } from '../context.ts';

/** Whether a subscription's filter takes the event. Test messages are never fanned out (the test route sends them). */
export function matches(filter: NotificationFilter, event: Event): boolean {
  if (!isNotificationEventType(event.type) || event.type === 'notification.test') return false;
  if (filter.types && !filter.types.some((type) => type === event.type || (type.endsWith('.*') && event.type.startsWith(type.slice(0, -1))))) return false;
  const within = (list: string[] | undefined, value: string | undefined) => !list || (value !== undefined && list.includes(value));
  if (!within(filter.apps, event.app) || !within(filter.environments, event.environment) || !within(filter.clusters, event.cluster)) return false;
  return SEVERITY_RANK[severityOf(event.type)] >= SEVERITY_RANK[filter.severity ?? 'info'];
}

/**
 * The wait before attempt n+1 after n failed ones: exponential from retryBaseMs, at most
 * retryMaxMs, with "equal jitter" (half fixed, half random) so receivers that come back are not
 * hit by every delivery at once.
 */
export function retryDelayMs(failedAttempts: number, config: Pick<NotifyConfig, 'retryBaseMs' | 'retryMaxMs'>, random = Math.random): number {
  const exponential = Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** Math.min(failedAttempts - 1, 40));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

/** Where the next attempt goes after a failure, or null when the delivery is dead (deadline or attempts spent). */
export function nextAttempt(failedAttempts: number, now: Date, deadline: string, config: NotifyConfig, random = Math.random): string | null {
  if (failedAttempts >= config.maxAttempts) return null;
  const at = now.getTime() + retryDelayMs(failedAttempts, config, random);
  return at > Date.parse(deadline) ? null : new Date(at).toISOString();
}

/** The dashboard page (functions/ui) of what the event is about, when a public URL is configured. */
export function dashboardLink(publicUrl: string | null, event: Event): string | null {
  if (!publicUrl) return null;
  const base = publicUrl.replace(/\/+$/, '');
  const rollout = event.data?.rollout;
  if (event.app && typeof rollout === 'string') return `${base}/ui/apps/${encodeURIComponent(event.app)}/rollouts/${encodeURIComponent(rollout)}`;
  if (event.cluster) return `${base}/ui/clusters/${encodeURIComponent(event.cluster)}`;
  if (event.app) return `${base}/ui/apps/${encodeURIComponent(event.app)}`;
  return `${base}/ui/events`;
}

export function webhookPayload(event: Event, dashboard: string | null): WebhookPayload {
  return { type: event.type as WebhookPayload['type'], timestamp: event.at, severity: severityOf(event.type), data: withoutSecretValues(event), links: { dashboard } };
}

const MASK = '***';
const SECRET_VALUE = /^\/(data|stringData)(\/|$)|last-applied-configuration/;

/**
 * The event with the values of a drifted Secret masked. The agent masks them before they leave
 * the cluster (agent/ssa/normalize.ts); a payload masks them again, so an agent that did not (an
 * old or a hostile one) still cannot make a notification carry one.
 */
export function withoutSecretValues(event: Event): Event {
  const object = event.data?.object;
  const fields = event.data?.fields;
  if (!event.type.startsWith('drift.') || typeof object !== 'string' || !object.startsWith('Secret/') || !Array.isArray(fields)) return event;
  const mask = (value: unknown): unknown =>
    value === null || value === undefined ? null : typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.keys(value).map((key) => [key, MASK])) : MASK;
  const masked = fields.map((field: { path?: unknown; before?: unknown; after?: unknown }) =>
    typeof field.path === 'string' && !SECRET_VALUE.test(field.path) ? field : { ...field, before: mask(field.before), after: mask(field.after) },
  );
  return { ...event, data: { ...event.data, fields: masked } };
}

/** Drift of one object on one cluster: what the debounce window is per. */
export function driftSubject(event: Event): string | null {
  if (event.type !== 'drift.detected') return null;
  return [event.cluster ?? '', event.app ?? '', String(event.data?.object ?? '')].join('#').slice(0, 900);
}
