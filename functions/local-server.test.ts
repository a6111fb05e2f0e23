import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalControlPlane } from './local-server.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('embedded default', () => {
  it('serves over HTTP, keeps every record and the admin token across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flotilla-local-'));
    dirs.push(dataDir);
    const first = await startLocalControlPlane({ dataDir });
    const auth = { authorization: `Bearer ${first.adminToken}`, 'content-type': 'application/json' };
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    await fetch(`${first.url}/v1/environments/dev`, { method: 'PUT', headers: auth, body: '{}' });
    await fetch(`${first.url}/v1/apps/web`, { method: 'PUT', headers: auth, body: JSON.stringify({ repository: 'r.example/web' }) });
    const release = await fetch(`${first.url}/v1/apps/web/releases`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ version: '1.0.0', digest: `sha256:${'b'.repeat(64)}` }),
    });
    expect(release.status).toBe(201);
    expect((await stat(first.adminTokenPath)).mode & 0o777).toBe(0o600);
    await first.stop();

    const second = await startLocalControlPlane({ dataDir });
    try {
      expect(second.adminToken).toBe(first.adminToken);
      const res = await fetch(`${second.url}/v1/apps/web/releases`, { headers: { authorization: `Bearer ${second.adminToken}` } });
      const body = (await res.json()) as { items: { version: string }[] };
      expect(body.items.map((r) => r.version)).toEqual(['1.0.0']);
      const events = (await (await fetch(`${second.url}/v1/events?order=asc`, { headers: auth })).json()) as { items: { type: string }[] };
      expect(events.items.map((e) => e.type)).toEqual(['environment.created', 'app.created', 'release.published']);
    } finally {
      await second.stop();
    }
  });
});
