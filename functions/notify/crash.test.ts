// Crash points of the dispatcher: it is killed before each of its writes (fan-out, leaving the
// outbox, the lease, the outcome), restarted on the same storage, and run again. Whatever the
// point, the event reaches the receiver (at least once, always with the same webhook-id), its
// delivery ends delivered, there is one delivery per event and subscription, and every attempt
// the receiver saw is in the log.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { digestOf, startFixture, type CrashPlan, type Fixture } from '../../test/support/control-plane.ts';
import { startReceiver, type Receiver } from '../../test/support/receiver.ts';
import { dispatchOnce } from './dispatcher.ts';

const plan: CrashPlan = { writes: 0, crashed: false };
let f: Fixture;
let target: Receiver;
let subscription: { id: string; secret: string };

beforeAll(async () => {
  const log = console.error.bind(console);
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    if (!/CrashError|killed/.test(String(args[0]))) log(...args);
  });
  f = await startFixture({
    crash: plan,
    config: { notify: { allowCidrs: ['127.0.0.0/8'], timeoutMs: 300, retryBaseMs: 10, retryMaxMs: 40, leaseMarginMs: 20 } },
  });
  target = await startReceiver();
  const res = await f.admin('POST', '/v1/notifications/subscriptions', { destination: { type: 'webhook', url: target.url }, filter: { types: ['release.published'] } });
  subscription = res.body;
});
afterAll(async () => {
  await target.stop();
  await f.stop();
});

async function delivery(eventId: string) {
  return (await f.admin('GET', `/v1/notifications/subscriptions/${subscription.id}/deliveries/${eventId}`)).body;
}

describe('a crash of the dispatcher at any write loses no delivery', () => {
  it('every write boundary of a run', async () => {
    let covered = 0;
    for (let crashAt = 1; crashAt < 30; crashAt++) {
      const app = `crash-${crashAt}`;
      await f.admin('PUT', `/v1/apps/${app}`, { repository: `127.0.0.1:5000/team/${app}` });
      const published = await f.admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: digestOf(crashAt) });
      const eventId = published.body.eventId as string;
      expect(eventId).toMatch(/^[0-9a-f]+$/);

      Object.assign(plan, { writes: 0, crashed: false, crashAt });
      await dispatchOnce(f.services).catch((err: Error) => expect(err.name).toBe('CrashError'));
      if (!plan.crashed) {
        plan.crashAt = undefined;
        covered = crashAt - 1;
        break;
      }
      await f.restart();
      plan.crashAt = undefined;
      plan.crashed = false;
      const deadline = Date.now() + 10_000;
      while ((await delivery(eventId)).state !== 'delivered') {
        expect(Date.now(), `killed before write ${crashAt}: delivered after the restart`).toBeLessThan(deadline);
        await dispatchOnce(f.services);
        await new Promise((wait) => setTimeout(wait, 30));
      }
      const got = target.received.filter((request) => request.headers['webhook-id'] === eventId);
      expect(got.length, `killed before write ${crashAt}: the receiver got it`).toBeGreaterThanOrEqual(1);
      for (const request of got) expect(() => new Webhook(subscription.secret).verify(request.body, request.headers as Record<string, string>)).not.toThrow();
      const logged = await delivery(eventId);
      expect(logged.attempts.length, 'every attempt the receiver saw is logged').toBeGreaterThanOrEqual(got.length);
      expect(logged.attempts.at(-1).outcome).toBe('delivered');
      expect(logged.attempts.filter((attempt: { outcome: string }) => attempt.outcome === 'in-flight')).toEqual([]);
      const all = (await f.admin('GET', `/v1/notifications/subscriptions/${subscription.id}/deliveries?limit=100`)).body.items;
      expect(all.filter((item: { id: string }) => item.id === eventId), 'one delivery per event and subscription').toHaveLength(1);
      expect((await f.services.storage.notifications.outbox(100)).map((event) => event.id), 'the event left the outbox').not.toContain(eventId);
    }
    console.log(`notification crash-point test: ${covered} write boundaries of a dispatcher run`);
    expect(covered, 'a run writes at least fan-out, outbox, lease and outcome').toBeGreaterThanOrEqual(4);
  });
});
