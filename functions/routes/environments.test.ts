import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, backendOptions, digestOf, seedWorld, startFixture, type Fixture } from '../../test/support/control-plane.ts';

describe.each(BACKENDS)('on %s storage', (backend) => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture(backendOptions(backend));
    await seedWorld(f);
    for (const [i, version] of ['1.0.0', '1.0.1', '1.1.0', '2.0.0'].entries()) {
      await f.admin('POST', '/v1/apps/web/releases', { version, digest: digestOf(i + 1) });
    }
  });
  afterAll(() => f.stop());

  describe('environments and policies', () => {
    it('rejects an unknown upstream, a self upstream and a bad range', async () => {
      expect((await f.admin('PUT', '/v1/environments/qa', { upstream: 'nope' })).status).toBe(404);
      expect((await f.admin('PUT', '/v1/environments/qa', { upstream: 'qa' })).status).toBe(400);
      const bad = await f.admin('PUT', '/v1/apps/web/environments/dev', { track: 'not-a-range' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/^body\.track:/);
      expect((await f.admin('PUT', '/v1/apps/web/environments/nowhere', { track: null })).status).toBe(404);
    });

    it('resolves a tracked environment to the highest release in range', async () => {
      const view = await f.admin('GET', '/v1/apps/web/environments/dev');
      expect(view.body).toMatchObject({ track: '^1.0.0', pins: [], resolved: { version: '1.1.0', regions: {} } });
      const listed = await f.admin('GET', '/v1/environments');
      expect(listed.body.items.map((e: { name: string }) => e.name)).toEqual(['dev', 'prod']);
    });
  });

  describe('promotions', () => {
    it('promotes to an environment, then a region, as append-only records', async () => {
      const env = await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0', reason: 'tested in dev' });
      expect(env.status).toBe(201);
      expect(env.body).toMatchObject({
        app: 'web', environment: 'prod', region: null, seq: 1, fromVersion: null, toVersion: '1.0.0',
        digest: digestOf(1), actor: 'admin', reason: 'tested in dev', kind: 'promote',
      });
      const region = await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', region: 'eu', version: 'v1.0.1', reason: 'canary' });
      expect(region.body).toMatchObject({ region: 'eu', seq: 1, fromVersion: '1.0.0', toVersion: '1.0.1' });
      const view = await f.admin('GET', '/v1/apps/web/environments/prod');
      expect(view.body.resolved).toEqual({ version: '1.0.0', regions: { eu: '1.0.1' } });
    });

    it('refuses unknown and blocked releases and a no-op promotion', async () => {
      expect((await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '9.0.0', reason: 'x' })).status).toBe(404);
      await f.admin('POST', '/v1/apps/web/releases/2.0.0/block', { reason: 'broken' });
      const blocked = await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '2.0.0', reason: 'x' });
      expect(blocked.status).toBe(409);
      expect(blocked.body.error.message).toMatch(/blocked: broken/);
      const same = await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0', reason: 'again' });
      expect(same.status).toBe(409);
      expect((await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.0' })).status).toBe(400);
    });

    it('lets exactly one of 50 parallel promotions win; history holds exactly the accepted record', async () => {
      const before = (await f.admin('GET', '/v1/apps/web/promotions?environment=prod&region=us')).body.items.length;
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', region: 'us', version: '1.1.0', reason: `race ${i}` }),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(49);
      const winner = results.find((r) => r.status === 201)!.body;
      const history = (await f.admin('GET', '/v1/apps/web/promotions?environment=prod&region=us')).body.items;
      expect(history).toHaveLength(before + 1);
      expect(history.at(-1)).toEqual(winner);
      const events = (await f.admin('GET', '/v1/events?app=web&type=promotion.promoted')).body.items;
      expect(events.filter((e: { region?: string }) => e.region === 'us')).toHaveLength(1);
    });

    it('rolls back to the version the pin replaced, in one call', async () => {
      await f.admin('POST', '/v1/apps/web/promotions', { environment: 'prod', version: '1.0.1', reason: 'next' });
      const rollback = await f.admin('POST', '/v1/apps/web/rollbacks', { environment: 'prod', reason: 'errors up' });
      expect(rollback.status).toBe(201);
      expect(rollback.body).toMatchObject({ kind: 'rollback', fromVersion: '1.0.1', toVersion: '1.0.0', seq: 3 });
      expect((await f.admin('GET', '/v1/apps/web/environments/prod')).body.resolved.version).toBe('1.0.0');
      const history = (await f.admin('GET', '/v1/apps/web/promotions?environment=prod')).body.items.filter(
        (r: { region: string | null }) => r.region === null,
      );
      expect(history.map((r: { toVersion: string }) => r.toVersion)).toEqual(['1.0.0', '1.0.1', '1.0.0']);
      // nothing before the first record of the environment itself
      await f.admin('PUT', '/v1/environments/staging', {});
      expect((await f.admin('POST', '/v1/apps/web/rollbacks', { environment: 'staging', reason: 'x' })).status).toBe(409);
    });

    it('walks back through history on repeated rollbacks instead of toggling', async () => {
      await f.admin('PUT', '/v1/environments/qa', {});
      for (const version of ['1.0.0', '1.0.1', '1.1.0']) {
        await f.admin('POST', '/v1/apps/web/promotions', { environment: 'qa', version, reason: 'next' });
      }
      const first = await f.admin('POST', '/v1/apps/web/rollbacks', { environment: 'qa', reason: 'bad' });
      expect(first.body).toMatchObject({ fromVersion: '1.1.0', toVersion: '1.0.1' });
      const second = await f.admin('POST', '/v1/apps/web/rollbacks', { environment: 'qa', reason: 'also bad' });
      expect(second.body).toMatchObject({ fromVersion: '1.0.1', toVersion: '1.0.0' });
      expect((await f.admin('POST', '/v1/apps/web/rollbacks', { environment: 'qa', reason: 'again' })).status).toBe(409);
    });

    it('rolls a pinned tracked environment back to the version tracking had chosen', async () => {
      expect((await f.admin('GET', '/v1/apps/web/environments/dev')).body.resolved.version).toBe('1.1.0');
      const pinned = await f.admin('POST', '/v1/apps/web/promotions', { environment: 'dev', version: '1.0.0', reason: 'hold' });
      expect(pinned.body.fromVersion).toBe('1.1.0');
      const back = await f.admin('POST', '/v1/apps/web/rollbacks', { environment: 'dev', reason: 'release the hold' });
      expect(back.body.toVersion).toBe('1.1.0');
    });

    it('refuses upstream cycles and build metadata in versions', async () => {
      await f.admin('PUT', '/v1/environments/a', {});
      await f.admin('PUT', '/v1/environments/b', { upstream: 'a' });
      const cycle = await f.admin('PUT', '/v1/environments/a', { upstream: 'b' });
      expect(cycle.status).toBe(400);
      expect(cycle.body.error.message).toMatch(/cycle/);
      const build = await f.admin('POST', '/v1/apps/web/releases', { version: '1.2.0+build.7', digest: digestOf(77) });
      expect(build.status).toBe(400);
      expect(build.body.error.message).toMatch(/build metadata/);
    });
  });
});
