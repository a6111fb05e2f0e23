// Every list pages with a cursor: complete across pages, in order, filters applied, cursors checked.
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, backendOptions, digestOf, startFixture, type Fixture } from '../../test/support/control-plane.ts';

describe.each(BACKENDS)('lists on %s storage', (backend) => {
  let f: Fixture;

  async function all(path: string, limit: number) {
    const items: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const separator = path.includes('?') ? '&' : '?';
      const res = await f.admin('GET', `${path}${separator}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    return { items, pages };
  }

  beforeAll(async () => {
    f = await startFixture(backendOptions(backend));
    for (const env of ['dev', 'prod']) await f.admin('PUT', `/v1/environments/${env}`, {});
    for (let i = 0; i < 7; i++) await f.admin('PUT', `/v1/apps/app-${i}`, { repository: `r.example/team/app-${i}` });
    for (let i = 0; i < 9; i++) await f.admin('PUT', `/v1/clusters/c-${i}`, { environment: i % 3 === 0 ? 'prod' : 'dev', region: i % 2 ? 'us' : 'eu' });
    for (const version of ['1.0.0', '1.10.0', '1.2.0', '2.0.0-rc.1', '2.0.0', '1.2.0-beta.2', '1.2.0-beta.11']) {
      await f.admin('POST', '/v1/apps/app-0/releases', { version, digest: digestOf(version.length + version.charCodeAt(version.length - 1)) });
    }
  });
  afterAll(() => f.stop());

  it('pages apps and environments to the end', async () => {
    const apps = await all('/v1/apps', 2);
    expect(apps.items.map((app) => app.name)).toEqual(['app-0', 'app-1', 'app-2', 'app-3', 'app-4', 'app-5', 'app-6']);
    expect(apps.pages).toBe(4);
    expect((await all('/v1/environments', 1)).items.map((env) => env.name)).toEqual(['dev', 'prod']);
  });

  it('pages filtered clusters completely', async () => {
    const prodUs = await all('/v1/clusters?environment=prod&region=us', 1);
    expect(prodUs.items.map((cluster) => cluster.name)).toEqual(['c-3']);
    expect((await all('/v1/clusters?environment=dev', 2)).items).toHaveLength(6);
  });

  it('lists releases newest version first across pages', async () => {
    const releases = await all('/v1/apps/app-0/releases', 3);
    expect(releases.items.map((release) => release.version)).toEqual(['2.0.0', '2.0.0-rc.1', '1.10.0', '1.2.0', '1.2.0-beta.11', '1.2.0-beta.2', '1.0.0']);
  });

  it('indexes releases stored before the releases index existed, once', async () => {
    const doc = DynamoDBDocumentClient.from(f.dynamo);
    await doc.send(new PutCommand({ TableName: f.tableName, Item: { pk: 'APP#app-1', sk: 'REL#0.9.0', type: 'release', app: 'app-1', version: '0.9.0', digest: digestOf(90), publishedBy: 'ci', publishedAt: '2026-01-01T00:00:00.000Z', blocked: null } }));
    await doc.send(new DeleteCommand({ TableName: f.tableName, Key: { pk: 'APP#app-1', sk: '#RELEASE-INDEX' } }));
    await f.admin('POST', '/v1/apps/app-1/releases', { version: '1.0.0', digest: digestOf(91) });
    expect((await all('/v1/apps/app-1/releases', 10)).items.map((release) => release.version)).toEqual(['1.0.0', '0.9.0']);
  });

  it('refuses forged cursors and cursors of other lists', async () => {
    const page = (await f.admin('GET', '/v1/apps?limit=1')).body;
    expect(page.nextCursor).toEqual(expect.any(String));
    for (const cursor of ['x', Buffer.from('{"pk":1}').toString('base64url'), Buffer.from('[]').toString('base64url')]) {
      const res = await f.admin('GET', `/v1/apps?cursor=${cursor}`);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/^query\.cursor: /);
    }
    expect((await f.admin('GET', `/v1/clusters?cursor=${page.nextCursor}`)).status).toBe(400);
    expect((await f.admin('GET', '/v1/apps?limit=0')).status).toBe(400);
    expect((await f.admin('GET', '/v1/apps?limit=100000')).status).toBe(400);
  });
});
