import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, seedWorld, startFixture, type Fixture } from '../../test/support/control-plane.ts';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
  await seedWorld(f);
});
afterAll(() => f.stop());

describe('apps', () => {
  it('creates, updates and lists apps with defaults', async () => {
    const created = await f.admin('PUT', '/v1/apps/api', { repository: 'registry.example.com:5000/team/api' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'api', path: '.', namespace: 'default', prune: true, wait: true });
    const updated = await f.admin('PUT', '/v1/apps/api', { repository: 'registry.example.com:5000/team/api', path: 'deploy' });
    expect(updated.status).toBe(200);
    expect(updated.body.createdAt).toBe(created.body.createdAt);
    const listed = await f.admin('GET', '/v1/apps');
    expect(listed.body.items.map((a: { name: string }) => a.name)).toEqual(['api', 'web']);
    expect((await f.admin('GET', '/v1/apps/api')).body.path).toBe('deploy');
  });

  it('rejects invalid specs naming the field', async () => {
    const bad = await f.admin('PUT', '/v1/apps/api2', { repository: 'Not A Repo:tag' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('bad_request');
    expect(bad.body.error.message).toMatch(/^body\.repository:/);
    expect((await f.admin('PUT', '/v1/apps/UPPER', { repository: 'r.example/x' })).body.error.message).toMatch(/^param\.app:/);
    expect((await f.admin('PUT', '/v1/apps/x', { repository: 'r.example/x', extra: 1 })).status).toBe(400);
    expect((await f.admin('GET', '/v1/apps/missing')).status).toBe(404);
  });
});

describe('releases', () => {
  it('registers a release, idempotently for the same digest, 409 for another', async () => {
    const first = await f.admin('POST', '/v1/apps/web/releases', { version: 'v1.0.0', digest: digestOf(1) });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ version: '1.0.0', digest: digestOf(1), publishedBy: 'admin', blocked: null });
    const again = await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(1) });
    expect(again.status).toBe(200);
    expect(again.body.publishedAt).toBe(first.body.publishedAt);
    const other = await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: digestOf(2) });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('conflict');
    expect((await f.admin('GET', '/v1/apps/web/releases/v1.0.0')).body.digest).toBe(digestOf(1));
    expect((await f.admin('GET', '/v1/apps/web/releases/1.0.7')).status).toBe(404);
    const releases = await f.admin('GET', '/v1/apps/web/releases');
    expect(releases.body.items).toHaveLength(1);
    expect(releases.body.items[0].digest).toBe(digestOf(1));
  });

  it.each(['1.0', '1.0.0.0', 'latest', '01.0.0', 'v', ''])('rejects the version %j', async (version) => {
    const res = await f.admin('POST', '/v1/apps/web/releases', { version, digest: digestOf(3) });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^body\.version:/);
  });

  it('rejects bad digests and unknown apps', async () => {
    expect((await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.9', digest: 'sha256:xyz' })).body.error.message).toMatch(
      /^body\.digest:/,
    );
    expect((await f.admin('POST', '/v1/apps/nope/releases', { version: '1.0.0', digest: digestOf(1) })).status).toBe(404);
  });

  it('blocks and unblocks with a reason, recorded in the audit log', async () => {
    await f.admin('POST', '/v1/apps/web/releases', { version: '1.0.5', digest: digestOf(5) });
    expect((await f.admin('POST', '/v1/apps/web/releases/1.0.5/block', {})).status).toBe(400);
    const blocked = await f.admin('POST', '/v1/apps/web/releases/1.0.5/block', { reason: 'memory leak' });
    expect(blocked.status).toBe(200);
    expect(blocked.body.blocked).toMatchObject({ reason: 'memory leak', by: 'admin' });
    const unblocked = await f.admin('POST', '/v1/apps/web/releases/v1.0.5/unblock', { reason: 'fixed config' });
    expect(unblocked.body.blocked).toBeNull();
    expect((await f.admin('POST', '/v1/apps/web/releases/9.9.9/block', { reason: 'x' })).status).toBe(404);
    const events = await f.admin('GET', '/v1/events?app=web&order=asc');
    const types = events.body.items.map((e: { type: string }) => e.type);
    expect(types).toEqual(expect.arrayContaining(['release.published', 'release.blocked', 'release.unblocked']));
  });
});
