import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
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

describe('npm start fails in one sentence', () => {
  const start = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((done) => {
      execFile(process.execPath, ['--import', 'tsx', 'functions/local.ts'], { env: { ...process.env, ...env }, timeout: 60_000 }, (error, _stdout, stderr) =>
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });

  it('names every bad setting at once', async () => {
    const { code, stderr } = await start({ PORT: 'eighty', FLOTILLA_OIDC: '{not json' });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/PORT: must be a number/);
    expect(stderr).toMatch(/FLOTILLA_OIDC: must be valid JSON/);
  });

  it('says when the port is in use', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flotilla-local-'));
    dirs.push(dataDir);
    const blocker = createServer();
    await new Promise<void>((ready) => blocker.listen(0, '127.0.0.1', ready));
    const { port } = blocker.address() as AddressInfo;
    try {
      const { code, stderr } = await start({ PORT: String(port), FLOTILLA_DATA_DIR: dataDir });
      expect(code).toBe(2);
      expect(stderr.trim()).toBe(`flotilla: port ${port} on 127.0.0.1 is in use; set PORT to another one`);
    } finally {
      blocker.close();
    }
  });
});

describe('requests Node refuses before routing', () => {
  it('still get the error envelope', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flotilla-local-'));
    dirs.push(dataDir);
    const plane = await startLocalControlPlane({ dataDir });
    try {
      const res = await fetch(`${plane.url}/v1/apps?cursor=${'a'.repeat(20_000)}`);
      expect(res.status).toBe(431);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    } finally {
      await plane.stop();
    }
  });
});
