// cluster.stale comes from the clock: a cluster that stops checking in gets one event per stale
// spell (however many scans see it), and subscribers are sent it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest } from '../../lib/agent-auth.ts';
import { startFixture, type Fixture } from '../../test/support/control-plane.ts';
import { startReceiver, type Receiver } from '../../test/support/receiver.ts';
import { WebhookPayload } from '../../lib/api/notifications.ts';
import { runClock } from '../clock.ts';
import { dispatchOnce } from './dispatcher.ts';

let f: Fixture;
let receiver: Receiver;

beforeAll(async () => {
  f = await startFixture({ config: { staleAfterSeconds: 1, fleetScanSeconds: 0, notify: { allowCidrs: ['127.0.0.0/8'] } } });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.stop();
  await f.stop();
});

describe('cluster.stale', () => {
  it('is recorded once per spell by the clock and sent to subscribers', async () => {
    await f.admin('PUT', '/v1/environments/dev', {});
    await f.admin('PUT', '/v1/clusters/quiet', { environment: 'dev', region: 'eu' });
    const { token } = (await f.admin('POST', '/v1/clusters/quiet/registration-tokens')).body;
    const key = await generateAgentKey();
    expect((await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } })).status).toBe(200);
    const jwt = await signAgentRequest(key, 'quiet', 'flotilla', { method: 'GET', path: '/v1/agent/desired-state?heartbeat=1' });
    expect((await f.call('GET', '/v1/agent/desired-state?heartbeat=1', { token: jwt })).status).toBe(200);
    const sub = (await f.admin('POST', '/v1/notifications/subscriptions', { destination: { type: 'webhook', url: receiver.url }, filter: { types: ['cluster.stale'], clusters: ['quiet'] } })).body;
    // Checked in just now: not stale yet.
    await runClock(f.services);
    expect((await f.admin('GET', '/v1/events?type=cluster.stale')).body.items).toEqual([]);

    await new Promise((wait) => setTimeout(wait, 1500));
    for (let scan = 0; scan < 3; scan++) await runClock(f.services);
    const events = (await f.admin('GET', '/v1/events?type=cluster.stale')).body.items;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ cluster: 'quiet', environment: 'dev', region: 'eu', actor: 'clock' });

    await dispatchOnce(f.services);
    const [request] = await receiver.waitFor(1);
    expect((WebhookPayload.parse(JSON.parse(request!.body)) as { data: { data: unknown } }).data.data).toMatchObject({ staleAfterSeconds: 1 });
    expect(JSON.parse(request!.body)).toMatchObject({ type: 'cluster.stale', severity: 'warning', data: { id: events[0].id, cluster: 'quiet' } });
    await dispatchOnce(f.services);
    expect(receiver.received).toHaveLength(1);
    expect((await f.admin('GET', `/v1/notifications/subscriptions/${sub.id}/deliveries`)).body.items).toHaveLength(1);
  });
});
