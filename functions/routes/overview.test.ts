import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKey, signAgentRequest } from '../../lib/agent-auth.ts';
import { runClock } from '../clock.ts';
import { onRequestUsage } from '../usage.ts';
import { digestOf, seedWorld, startFixture, type Fixture } from '../../test/support/control-plane.ts';

let f: Fixture;

async function agent(name: string, environment: string, region: string) {
  await f.admin('PUT', `/v1/clusters/${name}`, { environment, region });
  const { token } = (await f.admin('POST', `/v1/clusters/${name}/registration-tokens`)).body;
  const key = await generateAgentKey();
  await f.call('POST', '/v1/agent/register', { token, body: { publicKey: key.publicJwk } });
  return async (method: string, path: string, body?: unknown) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    const jwt = await signAgentRequest(key, name, 'flotilla', { method, path, body: text });
    return f.call(method, path, { token: jwt, body: body === undefined ? undefined : text });
  };
}

const appReport = (version: string, phase: string, drift: unknown[] = []) => ({
  apps: [{ name: 'web', version, digest: digestOf(1), phase, drift }],
});

beforeAll(async () => {
  f = await startFixture();
  await seedWorld(f);
  await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(1) });
  await f.admin('POST', '/v1/apps/web/releases', { version: '1.1.0', digest: digestOf(2) });
  await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0', reason: 'go' });
  await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', region: 'eu', version: '1.1.0', reason: 'canary' });
});
afterAll(() => f.stop());

describe('fleet matrix', () => {
  it('shows desired versions per environment and region, clusters by phase, drifted and stale', async () => {
    const dev = await agent('dev-us-1', 'dev', 'us');
    const us1 = await agent('prod-us-1', 'prod', 'us');
    const us2 = await agent('prod-us-2', 'prod', 'us');
    await agent('prod-eu-1', 'prod', 'eu');
    await dev('POST', '/v1/agent/reports', appReport('1.1.0', 'Ready'));
    await us1('POST', '/v1/agent/reports', appReport('1.0.0', 'Ready'));
    const drift = [{ object: 'ConfigMap/web/cfg', fields: [{ path: 'data.x', before: '1', after: '2' }], corrected: false }];
    await us2('POST', '/v1/agent/reports', appReport('1.0.0', 'Suspended', drift));

    // reports count at once; the clock's scan counts the clusters that have not reported and stale ones
    await runClock(f.services);
    const { cells } = (await f.admin('GET', '/v1/fleet')).body;
    const cell = (environment: string, region: string) => cells.find((c: any) => c.environment === environment && c.region === region);
    expect(cell('dev', 'us')).toMatchObject({ app: 'web', desiredVersion: '1.1.0', clusters: 1, phases: { Ready: 1 }, versions: { '1.1.0': 1 } });
    expect(cell('prod', 'us')).toMatchObject({ desiredVersion: '1.0.0', clusters: 2, phases: { Ready: 1, Suspended: 1 }, drifted: 1, stale: 0 });
    // registered but never reported: pending, and stale since it has never been seen
    expect(cell('prod', 'eu')).toMatchObject({ desiredVersion: '1.1.0', clusters: 1, phases: { Pending: 1 }, stale: 1 });
  });
});

describe('audit log', () => {
  it('is queryable by app, environment, cluster, type and time, in order with actors', async () => {
    const all = (await f.admin('GET', '/v1/events?order=asc&limit=1000')).body.items;
    expect(all.length).toBeGreaterThan(10);
    const times = all.map((e: { at: string }) => e.at);
    expect([...times].sort()).toEqual(times);
    for (const event of all) expect(event.actor).toBeTruthy();

    const promotions = (await f.admin('GET', '/v1/events?app=web&type=promotion.promoted&order=asc')).body.items;
    expect(promotions.map((e: any) => [e.environment, e.region ?? null])).toEqual([['prod', null], ['prod', 'eu']]);
    const prod = (await f.admin('GET', '/v1/events?environment=prod')).body.items;
    expect(prod.length).toBeGreaterThan(0);
    expect(prod.every((e: any) => e.environment === 'prod')).toBe(true);
    const cluster = (await f.admin('GET', '/v1/events?cluster=prod-us-2&type=drift.detected')).body.items;
    expect(cluster).toHaveLength(1);
    expect(cluster[0].data.fields[0]).toEqual({ path: 'data.x', before: '1', after: '2' });

    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await f.admin('GET', `/v1/events?since=${future}&until=${future}`)).body.items).toEqual([]);
    const newest = (await f.admin('GET', '/v1/events?limit=1')).body.items;
    expect(newest[0].id).toBe(all.at(-1).id);
  });

  it.each(['asc', 'desc'])('pages through the log with cursors (%s)', async (order) => {
    const all = (await f.admin('GET', `/v1/events?order=${order}&limit=1000`)).body.items;
    const paged: unknown[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = (await f.admin('GET', `/v1/events?order=${order}&limit=4${cursor ? `&cursor=${cursor}` : ''}`)).body;
      paged.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    expect(paged).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 4));
    const byApp = (await f.admin('GET', '/v1/events?app=web&order=asc&limit=2')).body;
    const next = (await f.admin('GET', `/v1/events?app=web&order=asc&limit=2&cursor=${byApp.nextCursor}`)).body;
    const allByApp = (await f.admin('GET', '/v1/events?app=web&order=asc&limit=4')).body.items;
    expect([...byApp.items, ...next.items]).toEqual(allByApp);
    expect((await f.admin('GET', '/v1/events?cursor=bm90LWEtY3Vyc29y')).status).toBe(400);
  });

  it('shows recent drift on the drift endpoint even after it was corrected', async () => {
    const view = (await f.admin('GET', '/v1/clusters/prod-us-2/drift')).body;
    expect(view.apps[0].drift[0].object).toBe('ConfigMap/web/cfg');
    expect(view.events.map((e: { type: string }) => e.type)).toEqual(['drift.detected']);
  });
});

describe('fleet counts at scale', () => {
  it('move with each report, and the clock recounts a cell a crash or race left off', async () => {
    const eu = await agent('prod-eu-2', 'prod', 'eu');
    const cell = async () => (await f.admin('GET', '/v1/fleet')).body.cells.find((c: any) => c.environment === 'prod' && c.region === 'eu');
    const before = await cell();
    await eu('POST', '/v1/agent/reports', appReport('1.1.0', 'Progressing'));
    expect((await cell()).phases.Progressing ?? 0, 'counted when the report lands, no clock needed').toBe((before.phases.Progressing ?? 0) + 1);
    await eu('POST', '/v1/agent/reports', appReport('1.1.0', 'Ready'));
    const ready = await cell();
    expect(ready.phases.Progressing ?? 0).toBe(before.phases.Progressing ?? 0);
    expect(ready.phases.Ready).toBe((before.phases.Ready ?? 0) + 1);

    // a count moved twice (a retried report after a crash) is off until the clock recounts the cell
    await f.services.storage.fleet.move('prod', 'web', 'eu', null, { phase: 'Failed', version: '9.9.9', drifted: true }, Date.now());
    expect((await cell()).phases.Failed).toBe(1);
    // the clock recounts a changed cell once it has been quiet for the grace period: a minute later
    const { recounted } = await runClock({ ...f.services, now: () => new Date(Date.now() + 60_000) });
    expect(recounted).toBeGreaterThan(0);
    const repaired = await cell();
    expect(repaired.phases.Failed, 'recounted from the status items').toBeUndefined();
    expect(repaired.versions['9.9.9']).toBeUndefined();
    expect(repaired.phases.Ready).toBe(ready.phases.Ready);
  });

  it('reads as many items for 5 clusters as for 25: the cost is the cells, not the clusters', async () => {
    // The calls, and the read units DynamoDB's own ConsumedCapacity reports (dynalite sizes them by the items read).
    const callsOfFleet = async () => {
      f.dynamoCalls.length = 0;
      let readUnits = -1;
      const stop = onRequestUsage((request) => {
        if (request.route === '/v1/fleet') readUnits = request.usage.dynamo.readUnits;
      });
      expect((await f.admin('GET', '/v1/fleet')).status).toBe(200);
      stop();
      return { calls: [...f.dynamoCalls], readUnits };
    };
    for (let i = 0; i < 5; i++) await (await agent(`scale-a-${i}`, 'prod', 'us'))('POST', '/v1/agent/reports', appReport('1.0.0', 'Ready'));
    const few = await callsOfFleet();
    for (let i = 0; i < 20; i++) await (await agent(`scale-b-${i}`, 'prod', 'us'))('POST', '/v1/agent/reports', appReport('1.0.0', 'Ready'));
    const many = await callsOfFleet();
    expect(many.calls).toEqual(few.calls);
    expect(few.readUnits).toBeGreaterThan(0);
    expect(many.readUnits, 'the items read do not grow with the clusters').toBe(few.readUnits);
    expect(many.calls.filter((call) => call === 'Scan'), 'no scans').toEqual([]);
    const us = (await f.admin('GET', '/v1/fleet')).body.cells.find((c: any) => c.environment === 'prod' && c.region === 'us');
    expect(us.phases.Ready).toBeGreaterThanOrEqual(26);
  });
});

describe('a fleet cell flooded past DynamoDB item size', () => {
  it('is rewritten from the status items when a report cannot add to it, and the report is stored', async () => {
    const report = await agent('flood-1', 'prod', 'us');
    expect((await report('POST', '/v1/agent/reports', appReport('1.0.0', 'Progressing'))).status).toBe(202);
    // a cell grown toward 400 KB by a flood of distinct version texts
    let n = 0;
    for (const size of [60_000, 5_000, 500, 50, 5]) {
      let refused = false;
      while (!refused && n < 10_000) {
        await f.services.storage.fleet
          .move('prod', 'web', 'us', null, { phase: 'Ready', version: `${n++}`.padEnd(size, 'x'), drifted: false }, Date.now())
          .catch(() => (refused = true));
      }
      expect(refused, `DynamoDB refuses the item past 400 KB (${size})`).toBe(true);
    }
    // the cell is full to the byte: a report with a version it has not counted cannot add to it
    await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.1', digest: digestOf(3) }).catch(() => {});
    const stored = await report('POST', '/v1/agent/reports', { apps: [{ name: 'web', version: '1.0.1', digest: digestOf(3), phase: 'Failed', drift: [] }] });
    expect(stored.status).toBe(202);
    const cells = await f.services.storage.fleet.cells('prod', true);
    const us = cells.find((cell) => cell.app === 'web' && cell.region === 'us')!;
    expect(Object.keys(us.versions).every((version) => version.length < 100), 'recounted: only real versions').toBe(true);
    // the rewrite read the statuses before this report's own; the clock's recount (once quiet) has it
    await runClock({ ...f.services, now: () => new Date(Date.now() + 60_000) });
    const recounted = (await f.services.storage.fleet.cells('prod', true)).find((cell) => cell.app === 'web' && cell.region === 'us')!;
    expect(recounted.versions['1.0.1']).toBe(1);
  }, 120_000);
});

describe('a cluster moved when a crash cut the move short', () => {
  it('leaves its old cell at its next report, which rewrites its statuses where it is', async () => {
    const moved = await agent('moved-1', 'prod', 'us');
    expect((await moved('POST', '/v1/agent/reports', appReport('1.0.0', 'Ready'))).status).toBe(202);
    const ready = async (region: string) => (await f.services.storage.fleet.cells('prod', true)).find((cell) => cell.app === 'web' && cell.region === region)?.phases.Ready ?? 0;
    const [us, eu] = [await ready('us'), await ready('eu')];
    // the cluster item moved to eu, and nothing else: the process died before the move's clean-up
    await f.services.storage.clusters.put('moved-1', { environment: 'prod', region: 'eu', labels: {} }, new Date().toISOString());
    expect((await moved('POST', '/v1/agent/reports', appReport('1.1.0', 'Ready'))).status).toBe(202);
    expect(await ready('us'), 'left the old cell').toBe(us - 1);
    expect(await ready('eu'), 'counted in the new one').toBe(eu + 1);
    expect((await f.services.storage.clusters.appStatuses('prod', 'web', 'us')).some((status) => status.cluster === 'moved-1'), 'no status left under the old region').toBe(false);
  });
});
