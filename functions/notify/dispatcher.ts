// The notification dispatcher: one code path for the scheduled / stream-triggered Lambda
// (functions/lambda.ts `notify`) and the in-process loop of `npm start` (local.ts below).
//
// A run (1) fans out the events of the outbox: per matching subscription a delivery item, created
// once (its key is subscription + event id), then the event leaves the outbox; (2) attempts the
// deliveries that are due: each claimed by a conditional lease write, sent, its attempt logged,
// and then delivered, scheduled again (backoff with jitter) or dead-lettered after the deadline.
// A crash anywhere leaves work that the next run finds: an event still in the outbox, or a
// delivery still in the due index whose lease runs out.
import { randomUUID } from 'node:crypto';
import type { Event } from '../../lib/api/schemas.ts';
import type { DeliveryAttempt } from '../../lib/api/notifications.ts';
import type { Services } from '../context.ts';
import { dashboardLink, driftSubject, matches, nextAttempt, webhookPayload } from '../domain/notifications.ts';
import type { DeliveryRecord, SubscriptionRecord } from '../storage/index.ts';
import { commitStateOf, commitStatus, releaseCommit, releaseOf, statusUrl } from './github.ts';
import { send, type AttemptResult } from './http.ts';
import { slackMessage } from './slack.ts';
import { webhookHeaders } from './signing.ts';
import { allowedTargets } from './ssrf.ts';

const OUTBOX_PAGE = 100;
const DUE_PAGE = 50;
/** Pages of each kind one run reads at most: a run is bounded, the next one continues. */
const MAX_PAGES = 20;

export interface DispatchResult {
  fannedOut: number;
  created: number;
  attempted: number;
  delivered: number;
  failed: number;
  dead: number;
}

export class Dispatcher {
  private readonly inFlight = new Set<Promise<void>>();
  private subscriptions: Map<string, SubscriptionRecord> | null = null;
  private readonly result: DispatchResult = { fannedOut: 0, created: 0, attempted: 0, delivered: 0, failed: 0, dead: 0 };

  /** No new work is started after this (epoch ms): a run fits in its Lambda's timeout. */
  private startUntil = Infinity;

  constructor(private readonly services: Services) {}

  /**
   * One run: the outbox, then the due deliveries (started, at most `concurrency` at once), none
   * started after `budgetMs`. Call drain() to wait for the last ones.
   */
  async run(budgetMs = Infinity): Promise<DispatchResult> {
    this.startUntil = Date.now() + budgetMs;
    this.subscriptions = null;
    await this.fanOut();
    await this.attemptDue();
    return this.result;
  }

  /** Waits for every attempt this dispatcher started. */
  async drain(): Promise<DispatchResult> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
    return this.result;
  }

  get busy(): number {
    return this.inFlight.size;
  }

  private async allSubscriptions(): Promise<Map<string, SubscriptionRecord>> {
    this.subscriptions ??= new Map((await this.services.storage.notifications.allSubscriptions()).map((sub) => [sub.id, sub]));
    return this.subscriptions;
  }

  private async fanOut(): Promise<void> {
    const { notifications } = this.services.storage;
    for (let page = 0; page < MAX_PAGES && Date.now() < this.startUntil; page++) {
      const events = await notifications.outbox(OUTBOX_PAGE);
      // Events are independent: a page's are fanned out a few at a time.
      await eachLimited(events, this.services.config.notify.concurrency, async (event) => {
        await this.fanOutEvent(event);
        await notifications.fannedOut(event);
        this.result.fannedOut++;
      });
      if (events.length < OUTBOX_PAGE) return;
    }
  }

  private async fanOutEvent(event: Event): Promise<void> {
    const { notifications } = this.services.storage;
    const config = this.services.config.notify;
    const now = this.services.now();
    // The event's commit, looked up once for all its GitHub subscriptions.
    let commit: Promise<DeliveryRecord['target']> | undefined;
    for (const subscription of (await this.allSubscriptions()).values()) {
      if (event.at < subscription.createdAt || !matches(subscription.filter, event)) continue;
      let target: DeliveryRecord['target'] = null;
      if (subscription.destination.type === 'github') {
        target = await (commit ??= this.commitOf(event));
        if (!target) continue;
      }
      const subject = driftSubject(event);
      if (subject !== null) {
        const until = new Date(now.getTime() + config.debounceSeconds * 1000).toISOString();
        if (!(await notifications.openWindow(subscription.id, subject, event.id, now.toISOString(), until))) continue;
      }
      const created = await notifications.createDelivery({
        subscriptionId: subscription.id,
        eventId: event.id,
        eventType: event.type,
        event,
        state: 'pending',
        createdAt: now.toISOString(),
        nextAttemptAt: now.toISOString(),
        deadline: new Date(now.getTime() + config.maxAgeSeconds * 1000).toISOString(),
        attempts: [],
        target,
      });
      if (created) this.result.created++;
    }
  }

  /** The commit a GitHub status goes to: the release's source repository and revision, when it has both. */
  private async commitOf(event: Event): Promise<DeliveryRecord['target']> {
    if (!commitStateOf(event.type)) return null;
    const about = releaseOf(event);
    return about ? releaseCommit(this.services.storage, about.app, about.version) : null;
  }

  private async attemptDue(): Promise<void> {
    const { notifications } = this.services.storage;
    const concurrency = this.services.config.notify.concurrency;
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page++) {
      const due = (await notifications.dueDeliveries(this.services.now().toISOString(), DUE_PAGE)).filter(
        (delivery) => !seen.has(`${delivery.subscriptionId}#${delivery.eventId}`),
      );
      if (due.length === 0) return;
      for (const delivery of due) {
        seen.add(`${delivery.subscriptionId}#${delivery.eventId}`);
        while (this.inFlight.size >= concurrency) await Promise.race(this.inFlight);
        if (Date.now() >= this.startUntil) return;
        const attempt: Promise<void> = this.attempt(delivery)
          .catch((err: unknown) => console.error(JSON.stringify({ level: 'error', msg: 'notification attempt failed', delivery: delivery.eventId, error: String(err) })))
          .finally(() => this.inFlight.delete(attempt));
        this.inFlight.add(attempt);
      }
    }
  }

  /** One attempt of one delivery, under a lease. */
  async attempt(delivery: DeliveryRecord): Promise<void> {
    const { notifications } = this.services.storage;
    const config = this.services.config.notify;
    const now = this.services.now();
    const token = randomUUID();
    const n = delivery.attempts.length + 1;
    const started: DeliveryAttempt = { n, at: now.toISOString(), outcome: 'in-flight', statusCode: null, latencyMs: null, error: null };
    const lease = { token, until: new Date(now.getTime() + config.timeoutMs + config.leaseMarginMs).toISOString() };
    if (!(await notifications.claim(delivery, lease, started))) return;
    const subscription = (await this.allSubscriptions()).get(delivery.subscriptionId) ?? (await notifications.getSubscription(delivery.subscriptionId, true));
    const result: AttemptResult = subscription
      ? await this.send(subscription, delivery)
      : { ok: false, statusCode: null, latencyMs: 0, error: 'the subscription was deleted', body: '' };
    this.result.attempted++;
    const logged: DeliveryAttempt = { ...started, outcome: result.ok ? 'delivered' : 'failed', statusCode: result.statusCode, latencyMs: result.latencyMs, error: result.error };
    const retryFrom = delivery.retryFrom ?? 0;
    const next = result.ok || !subscription ? null : nextAttempt(n - retryFrom, this.services.now(), delivery.deadline, config);
    const state = result.ok ? 'delivered' : !subscription ? 'cancelled' : next === null ? 'dead' : 'pending';
    if (await notifications.finish(delivery, token, n - 1, logged, { state, at: next })) {
      if (state === 'delivered') this.result.delivered++;
      else if (state === 'dead') this.result.dead++;
      else this.result.failed++;
    }
  }

  private send(subscription: SubscriptionRecord, delivery: DeliveryRecord): Promise<AttemptResult> {
    const config = this.services.config.notify;
    const options = { timeoutMs: config.timeoutMs, allowed: allowedTargets(config) };
    const link = dashboardLink(config.publicUrl, delivery.event);
    const destination = subscription.destination;
    if (destination.type === 'slack') return send(destination.url, { headers: {}, body: JSON.stringify(slackMessage(delivery.event, link)) }, options);
    if (destination.type === 'github') {
      if (!delivery.target) return Promise.resolve({ ok: false, statusCode: null, latencyMs: 0, error: 'no commit to set a status on', body: '' });
      const headers = { authorization: `Bearer ${destination.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' };
      return send(statusUrl(destination.apiUrl, delivery.target), { headers, body: JSON.stringify(commitStatus(delivery.event, destination.context, link)) }, options);
    }
    const body = JSON.stringify(webhookPayload(delivery.event, link));
    const secrets = [subscription.secret, ...(subscription.previousSecret && subscription.previousSecretExpiresAt && subscription.previousSecretExpiresAt > this.services.now().toISOString() ? [subscription.previousSecret] : [])].filter(
      (secret): secret is string => typeof secret === 'string',
    );
    // The signature's timestamp is the wall clock: receivers compare it with theirs.
    const headers = webhookHeaders(secrets, delivery.eventId, Math.floor(Date.now() / 1000), body);
    return send(destination.url, { headers, body }, options);
  }
}

/** Runs `work` on every item, at most `limit` at once. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * One run to the end (the Lambda's): fan out, attempt what is due, wait for the attempts. With a
 * budget, no attempt starts after it (what is left is the next run's); the Lambda gives 40 s of
 * its 60, leaving room for the last attempts' deadlines.
 */
export async function dispatchOnce(services: Services, budgetMs = Infinity): Promise<DispatchResult> {
  const dispatcher = new Dispatcher(services);
  await dispatcher.run(budgetMs);
  return dispatcher.drain();
}

export interface LocalDispatcher {
  /** Ask for a run soon (an event was written). */
  kick(): void;
  /** Resolves when no run is going and nothing is in flight (tests, benchmarks). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The in-process dispatcher of `npm start`: a run when an event is written and every
 * `intervalMs` (retries come due with time). Runs never overlap; attempts of one run may still be
 * in flight when the next starts (a hanging receiver holds one slot, not the loop).
 */
export function startLocalDispatcher(services: Services, intervalMs = 1000): LocalDispatcher {
  const dispatcher = new Dispatcher(services);
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = dispatcher
      .run()
      .then(() => undefined)
      .catch((err: unknown) => console.error(JSON.stringify({ level: 'error', msg: 'notification dispatch failed', error: String(err) })))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return {
    kick: run,
    async idle() {
      while (running || dispatcher.busy) {
        await running;
        await dispatcher.drain();
      }
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await dispatcher.drain();
    },
  };
}
