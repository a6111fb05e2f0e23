// The audit log's paging: complete filtered pages, bounded work, validated windows and cursors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, backendOptions, startFixture, type Fixture } from '../../test/support/control-plane.ts';

const encode = (position: string) => Buffer.from(position).toString('base64url');

describe.each(BACKENDS)('audit log paging on %s storage', (backend) => {
  let f: Fixture;
  let token: string;
  const get = (path: string) => f.call('GET', path, { token });
  let clock = new Date('2026-11-20T10:00:00.000Z');

  /** Every page of a query, following cursors; counts the pages. */
  async function all(query: string) {
    const items: { type: string; environment?: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/v1/events?${query}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 500);
    return { items, pages };
  }

  beforeAll(async () => {
    f = await startFixture({ ...backendOptions(backend), now: () => clock });
    // 13 apps over 13 days, environments staging (4 of them) and prod, among other events.
    await f.admin('PUT', '/v1/environments/staging', {});
    await f.admin('PUT', '/v1/environments/prod', {});
    for (let i = 0; i < 13; i++) {
      clock = new Date(clock.getTime() + 86_400_000);
      await f.call('PUT', `/v1/apps/app-${i}`, { token: await f.mint([{ role: 'admin' }]), body: { repository: `r.example/team/app-${i}` } });
      await f.call('PUT', `/v1/apps/app-${i}/environments/${i % 4 === 0 ? 'staging' : 'prod'}`, { token: await f.mint([{ role: 'admin' }]), body: { track: '^1.0.0' } });
    }
    token = await f.mint([{ role: 'viewer' }]);
  });
  afterAll(() => f.stop());

  it('finds every match of a filter one event per page, in both orders', async () => {
    const since = '2026-11-01T00:00:00Z';
    for (const order of ['asc', 'desc']) {
      const created = await all(`type=app.created&limit=1&since=${since}&order=${order}`);
      expect(created.items).toHaveLength(13);
      const staging = await all(`environment=staging&type=policy.updated&limit=1&since=${since}&order=${order}`);
      expect(staging.items.map((event) => event.environment)).toEqual(['staging', 'staging', 'staging', 'staging']);
    }
  });

  it('gives the same events in small pages as in large ones', async () => {
    const since = '2026-11-01T00:00:00Z';
    const whole = (await all(`since=${since}&limit=1000&order=asc`)).items;
    const paged = await all(`since=${since}&limit=3&order=asc`);
    expect(paged.items).toEqual(whole);
    expect(whole.length).toBeGreaterThan(26);
  });

  it('bounds the work of one page over a quiet quarter, and the cursors still reach the end', async () => {
    const quiet = await all('since=2026-06-01T00:00:00Z&until=2026-08-31T00:00:00Z&limit=5');
    expect(quiet.items).toEqual([]);
    expect(quiet.pages).toBeGreaterThan(1);
    expect(quiet.pages).toBeLessThan(10);
  });

  it.each([
    ['until=9999-12-31T23:59:59Z', 'query.until'],
    ['since=1970-01-01T00:00:00Z&until=1970-01-02T00:00:00Z', 'query.until'],
    ['since=2026-01-01T00:00:00Z&until=2026-12-01T00:00:00Z', 'query.since'],
    ['since=2026-11-10T00:00:00Z&until=2026-11-01T00:00:00Z', 'query.since'],
  ])('refuses the window %s', async (query, field) => {
    const res = await get(`/v1/events?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
  });

  it.each([
    ['garbage', '!!!'],
    ['not a position', encode('hello')],
    ['an impossible date', encode('2026-13-45T00:00:00.000Z#0123456789abcdef')],
    ['a position of another window', encode('2019-01-01T00:00:00.000Z#0123456789abcdef')],
    ['a far future boundary', encode('9999-12-31T24')],
    ['a long id', encode(`2026-11-25T00:00:00.000Z#${'a'.repeat(60)}`)],
  ])('refuses a cursor that is %s', async (_name, cursor) => {
    const res = await get(`/v1/events?since=2026-11-01T00:00:00Z&cursor=${cursor}`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^query\.cursor: /);
  });
});
