// At-least-once delivery against real receivers on loopback and the real table: signed per
// Standard Webhooks (verified with the standardwebhooks package), retried with backoff until it
// succeeds, dead-lettered with every attempt logged, a redirect never followed, a hanging receiver
// cut off without slowing the request that caused the event, and a manual redeliver.
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebhookPayload } from '../../lib/api/notifications.ts';
import { BACKENDS, backendOptions, digestOf, startFixture, type Fixture } from '../../test/support/control-plane.ts';
import { startReceiver, type Behaviour, type Receiver } from '../../test/support/receiver.ts';
import { dispatchOnce, startLocalDispatcher } from './dispatcher.ts';

const LOOPBACK = ['127.0.0.0/8', '::1/128'];
let f: Fixture;
const receivers: Receiver[] = [];
let appCount = 0;

afterAll(async () => {
  for (const receiver of receivers) await receiver.stop();
});

async function receiver(behaviour?: Behaviour) {
  const started = await startReceiver(behaviour);
  receivers.push(started);
  return started;
}

async function subscribe(url: string, filter: Record<string, unknown> = {}) {
  const res = await f.admin('POST', '/v1/notifications/subscriptions', { destination: { type: 'webhook', url }, filter });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string };
}

/** A new app with one release published: one release.published event for it. */
async function publish(version = '1.0.0') {
  const app = `n${++appCount}`;
  await f.admin('PUT', `/v1/apps/${app}`, { repository: `127.0.0.1:5000/team/${app}` });
  const res = await f.admin('POST', `/v1/apps/${app}/releases`, { version, digest: digestOf(appCount) });
  expect(res.status).toBe(201);
  return app;
}

async function deliveries(subscription: string) {
  const res = await f.admin('GET', `/v1/notifications/subscriptions/${subscription}/deliveries?limit=100`);
  expect(res.status).toBe(200);
  return res.body.items as { id: string; state: string; eventType: string; attempts: { outcome: string; statusCode: number | null; latencyMs: number | null; error: string | null }[] }[];
}

/** Runs the dispatcher until `done` holds (retries come due within milliseconds here). */
async function dispatchUntil(done: () => Promise<boolean>, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('the dispatcher did not get there in time');
    await dispatchOnce(f.services);
    await new Promise((wait) => setTimeout(wait, 20));
  }
}

/** Publishes under other notification settings and runs the dispatcher until the subscription's first delivery is dead. */
async function publishUntilDead(subscription: string, settings: Partial<Fixture['services']['config']['notify']>) {
  const saved = { ...f.services.config.notify };
  Object.assign(f.services.config.notify, settings);
  try {
    await publish();
    await dispatchUntil(async () => (await deliveries(subscription))[0]?.state === 'dead');
  } finally {
    Object.assign(f.services.config.notify, saved);
  }
}

describe.each(BACKENDS)('on %s storage', (backend) => {
  beforeAll(async () => {
    f = await startFixture({
      ...backendOptions(backend),
      config: { notify: { allowCidrs: LOOPBACK, timeoutMs: 400, retryBaseMs: 20, retryMaxMs: 80, maxAgeSeconds: 3600, leaseMarginMs: 50 } },
    });
    await f.admin('PUT', '/v1/environments/dev', {});
  });
  // Each test hears only its own subscriptions.
  afterEach(async () => {
    for (const sub of (await f.admin('GET', '/v1/notifications/subscriptions?limit=1000')).body.items) {
      await f.admin('DELETE', `/v1/notifications/subscriptions/${sub.id}`);
    }
  });
  afterAll(async () => {
    await f.stop();
  });

  describe('webhook delivery', () => {
    it('signs per Standard Webhooks: the standardwebhooks package verifies it, and the payload is the documented one', async () => {
      const target = await receiver();
      const sub = await subscribe(target.url, { types: ['release.published'] });
      expect(sub.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      const app = await publish();
      await dispatchOnce(f.services);
      const [request] = await target.waitFor(1);
      const payload = new Webhook(sub.secret).verify(request!.body, request!.headers as Record<string, string>) as Record<string, unknown>;
      expect(WebhookPayload.parse(payload)).toMatchObject({ type: 'release.published', severity: 'info', data: { app, type: 'release.published' } });
      expect(request!.headers['webhook-id']).toBe((payload.data as { id: string }).id);
      // A tampered body does not verify.
      expect(() => new Webhook(sub.secret).verify(request!.body.replace(app, 'other'), request!.headers as Record<string, string>)).toThrow();
      const [delivery] = await deliveries(sub.id);
      expect(delivery).toMatchObject({ state: 'delivered', eventType: 'release.published', attempts: [{ outcome: 'delivered', statusCode: 200, error: null }] });
      expect(delivery!.attempts[0]!.latencyMs).toBeGreaterThanOrEqual(0);
    });

    it('a receiver that fails 3 times then succeeds gets the event once more, and no more after', async () => {
      const target = await receiver((n) => (n < 3 ? 500 : 200));
      const sub = await subscribe(target.url, { types: ['release.published'] });
      await publish();
      await dispatchUntil(async () => (await deliveries(sub.id))[0]?.state === 'delivered');
      for (let run = 0; run < 3; run++) await dispatchOnce(f.services);
      expect(target.received.map((request) => request.status)).toEqual([500, 500, 500, 200]);
      expect(new Set(target.received.map((request) => request.headers['webhook-id'])).size, 'the same message id on every retry').toBe(1);
      const [delivery] = await deliveries(sub.id);
      expect(delivery!.attempts.map((attempt) => [attempt.outcome, attempt.statusCode])).toEqual([
        ['failed', 500],
        ['failed', 500],
        ['failed', 500],
        ['delivered', 200],
      ]);
    });

    it('a receiver down for good ends in the dead letter with every attempt logged', async () => {
      const gone = await receiver();
      const url = gone.url;
      await gone.stop();
      receivers.splice(receivers.indexOf(gone), 1);
      const sub = await subscribe(url, { types: ['release.published'] });
      // The deadline is an hour away; the attempts run out first (maxAttempts).
      await publishUntilDead(sub.id, { maxAttempts: 5 });
      const [delivery] = await deliveries(sub.id);
      expect(delivery!.attempts).toHaveLength(5);
      for (const attempt of delivery!.attempts) expect(attempt).toMatchObject({ outcome: 'failed', statusCode: null, error: expect.stringContaining('ECONNREFUSED') });
      const read = await f.admin('GET', `/v1/notifications/subscriptions/${sub.id}/deliveries/${delivery!.id}`);
      expect(read.body).toMatchObject({ state: 'dead', nextAttemptAt: null });
    });

    it('dead-letters at the deadline: retries stop after maxAgeSeconds', async () => {
      const target = await receiver(() => 503);
      const sub = await subscribe(target.url, { types: ['release.published'] });
      await publishUntilDead(sub.id, { maxAgeSeconds: 2 });
      const [delivery] = await deliveries(sub.id);
      expect(delivery!.attempts.length).toBe(target.received.length);
      expect(delivery!.attempts.length).toBeGreaterThanOrEqual(2);
      expect(delivery!.attempts.every((attempt) => attempt.statusCode === 503)).toBe(true);
    });

    it('a manual redeliver sends a dead or delivered delivery again, with the same message id', async () => {
      let fail = true;
      const target = await receiver(() => (fail ? 500 : 200));
      const sub = await subscribe(target.url, { types: ['release.published'] });
      await publishUntilDead(sub.id, { maxAttempts: 2 });
      fail = false;
      const [dead] = await deliveries(sub.id);
      const res = await f.admin('POST', `/v1/notifications/subscriptions/${sub.id}/deliveries/${dead!.id}/redeliver`);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect(res.body.state).toBe('pending');
      await dispatchUntil(async () => (await deliveries(sub.id))[0]?.state === 'delivered');
      expect(target.received.map((request) => request.status)).toEqual([500, 500, 200]);
      expect(new Set(target.received.map((request) => request.headers['webhook-id'])).size).toBe(1);
      const missing = await f.admin('POST', `/v1/notifications/subscriptions/${sub.id}/deliveries/${'0'.repeat(40)}/redeliver`);
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('not_found');
    });

    it('does not follow redirects: a 3xx is a failed attempt and the other host gets nothing', async () => {
      const elsewhere = await receiver();
      const target = await receiver((_n, _request, response) => {
        response.writeHead(302, { location: `${elsewhere.url}/stolen` }).end();
        return 'handled';
      });
      const sub = await subscribe(target.url, { types: ['release.published'] });
      await publish();
      await dispatchOnce(f.services);
      await target.waitFor(1);
      const [delivery] = await deliveries(sub.id);
      expect(delivery!.attempts[0]).toMatchObject({ outcome: 'failed', statusCode: 302, error: expect.stringContaining('not followed') });
      expect(elsewhere.received).toHaveLength(0);
    });

    it('three dispatchers at once send each delivery once: a lease is claimed by one of them', async () => {
      const target = await receiver((n, _request, response) => {
        setTimeout(() => response.writeHead(200).end(), 30);
        return 'handled';
      });
      const sub = await subscribe(target.url, { types: ['release.published'] });
      for (let i = 0; i < 6; i++) await publish();
      // leases long enough that none runs out on a loaded machine: only the claim keeps them apart
      const saved = f.services.config.notify.leaseMarginMs;
      f.services.config.notify.leaseMarginMs = 10_000;
      try {
        await Promise.all([dispatchOnce(f.services), dispatchOnce(f.services), dispatchOnce(f.services)]);
      } finally {
        f.services.config.notify.leaseMarginMs = saved;
      }
      await dispatchUntil(async () => (await deliveries(sub.id)).filter((delivery) => delivery.state === 'delivered').length === 6);
      const ids = target.received.map((request) => String(request.headers['webhook-id']));
      expect(ids).toHaveLength(6);
      expect(new Set(ids).size).toBe(6);
      for (const delivery of await deliveries(sub.id)) expect(delivery.attempts).toHaveLength(1);
    });

    it('the test message goes through the same queue', async () => {
      const target = await receiver();
      const sub = await subscribe(target.url, { types: ['reconcile.failed'] });
      const res = await f.admin('POST', `/v1/notifications/subscriptions/${sub.id}/test`);
      expect(res.status).toBe(202);
      await dispatchOnce(f.services);
      const [request] = await target.waitFor(1);
      expect((new Webhook(sub.secret).verify(request!.body, request!.headers as Record<string, string>) as { type: string }).type).toBe('notification.test');
    });

    it('sends only what the filter asks for', async () => {
      const target = await receiver();
      const app = await publish();
      const sub = await subscribe(target.url, { types: ['release.*'], apps: [app], severity: 'warning' });
      await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.1', digest: digestOf(1000 + appCount) });
      await f.admin('POST', `/v1/apps/${app}/releases/1.0.1/block`, { reason: 'broken' });
      await publish();
      await dispatchOnce(f.services);
      await target.waitFor(1);
      await dispatchOnce(f.services);
      expect(target.received.map((request) => JSON.parse(request.body).type)).toEqual(['release.blocked']);
      expect((await deliveries(sub.id)).map((delivery) => delivery.eventType)).toEqual(['release.blocked']);
    });
  });

  describe('secret rotation', () => {
    it('signs with both secrets while they overlap, then with the new one only; secrets are never shown again', async () => {
      const target = await receiver();
      const sub = await subscribe(target.url, { types: ['notification.test'] });
      const rotated = await f.admin('POST', `/v1/notifications/subscriptions/${sub.id}/rotate-secret`, { previousSecretSeconds: 3600 });
      expect(rotated.status).toBe(200);
      const fresh = rotated.body.secret as string;
      expect(fresh).toMatch(/^whsec_/);
      expect(fresh).not.toBe(sub.secret);
      await f.admin('POST', `/v1/notifications/subscriptions/${sub.id}/test`);
      await dispatchOnce(f.services);
      const [request] = await target.waitFor(1);
      expect(String(request!.headers['webhook-signature']).split(' ')).toHaveLength(2);
      for (const secret of [sub.secret, fresh]) expect(() => new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>)).not.toThrow();

      const again = await f.admin('POST', `/v1/notifications/subscriptions/${sub.id}/rotate-secret`, { previousSecretSeconds: 0 });
      await f.admin('POST', `/v1/notifications/subscriptions/${sub.id}/test`);
      await dispatchOnce(f.services);
      const [, second] = await target.waitFor(2);
      expect(String(second!.headers['webhook-signature']).split(' ')).toHaveLength(1);
      expect(() => new Webhook(again.body.secret).verify(second!.body, second!.headers as Record<string, string>)).not.toThrow();
      expect(() => new Webhook(fresh).verify(second!.body, second!.headers as Record<string, string>)).toThrow();

      for (const path of [`/v1/notifications/subscriptions/${sub.id}`, '/v1/notifications/subscriptions?limit=1000']) {
        const text = JSON.stringify((await f.admin('GET', path)).body);
        for (const secret of [sub.secret, fresh, again.body.secret]) expect(text).not.toContain(secret.slice(6));
        expect(text).not.toMatch(/whsec_/);
      }
    });
  });

  describe('a slow receiver', () => {
    it('never slows the request that caused the event, and is cut off at the attempt deadline', async () => {
      const target = await receiver(() => 'hang');
      const sub = await subscribe(target.url, { types: ['release.published'] });
      const saved = { ...f.services.config.notify };
      f.services.config.notify.timeoutMs = 3000;
      // The lease must outlast the 3 s attempt plus its claim and finish writes on a loaded machine
      // (50 ms did not: another run took the lease back and logged the attempt as lost).
      f.services.config.notify.leaseMarginMs = 2000;
      const dispatcher = startLocalDispatcher(f.services, 50);
      f.services.storage.events.onWrite = dispatcher.kick;
      try {
        await publish();
        // The receiver holds the first delivery's connection open...
        await target.waitFor(1);
        // ...while another state change is requested: it is answered without waiting for it.
        const started = performance.now();
        await publish();
        const requestMs = performance.now() - started;
        const during = await deliveries(sub.id);
        const first = during.at(-1)!;
        expect(first.attempts[0]!.outcome, 'the first attempt still hangs when the second publish returns').toBe('in-flight');
        expect(requestMs).toBeLessThan(3000);
        await dispatchUntil(async () => (await deliveries(sub.id)).at(-1)?.attempts[0]?.outcome === 'failed');
        const [attempt] = (await deliveries(sub.id)).at(-1)!.attempts;
        expect(attempt!.error).toContain('no complete response within 3000 ms');
        expect(attempt!.latencyMs).toBeGreaterThanOrEqual(2990);
        expect(attempt!.latencyMs).toBeLessThan(6000);
      } finally {
        Object.assign(f.services.config.notify, saved);
        f.services.storage.events.onWrite = undefined;
        await dispatcher.stop();
      }
    });
  });
});
