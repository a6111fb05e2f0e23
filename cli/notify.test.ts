// `flotilla notify` as a user runs it, in its own process, against the control plane as `npm start`
// runs it (embedded storage over HTTP, the in-process dispatcher) and a real receiver on loopback.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalControlPlane, type LocalControlPlane } from '../functions/local-server.ts';
import { runFlotilla } from '../test/support/cli.ts';
import { startReceiver, type Receiver } from '../test/support/receiver.ts';

let plane: LocalControlPlane;
let work: string;
let env: Record<string, string>;
let receiver: Receiver;
let failing: Receiver;

const flotilla = (args: string[], extraEnv: Record<string, string> = {}) => runFlotilla(args, { ...env, ...extraEnv });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flotilla-notify-cli-'));
  plane = await startLocalControlPlane({
    dataDir: join(work, 'data'),
    clockSeconds: 0,
    notifyIntervalMs: 100,
    config: { notify: { allowCidrs: ['127.0.0.0/8'], retryBaseMs: 50, retryMaxMs: 100, maxAttempts: 2 } },
  });
  env = { FLOTILLA_URL: plane.url, FLOTILLA_TOKEN: plane.adminToken, FLOTILLA_CONFIG: join(work, 'no-config.json') };
  receiver = await startReceiver();
  failing = await startReceiver(() => 500);
});
afterAll(async () => {
  await receiver?.stop();
  await failing?.stop();
  await plane?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('flotilla notify', () => {
  let id: string;
  let secret: string;

  it('create prints the subscription and its secret once; list never shows the secret', async () => {
    const created = await flotilla(['notify', 'create', '--webhook', receiver.url, '--type', 'release.published,notification.test', '--name', 'ci', '--json']);
    expect(created.code, created.stderr).toBe(0);
    ({ id, secret } = JSON.parse(created.stdout));
    expect(secret).toMatch(/^whsec_/);
    const human = await flotilla(['notify', 'create', '--webhook', `${receiver.url}/other`]);
    expect(human.stdout).toMatch(/signing secret \(shown once.*\): whsec_/);
    const list = await flotilla(['notify', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toContain('release.published,notification.test');
    expect(list.stdout).not.toContain('whsec_');
  });

  it('test sends a signed message and waits for its outcome', async () => {
    const result = await flotilla(['notify', 'test', id]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^test message [0-9a-f]+: delivered \(200\) in \d+ ms/);
    const request = receiver.received.find((r) => JSON.parse(r.body).type === 'notification.test')!;
    expect(() => new Webhook(secret).verify(request.body, request.headers as Record<string, string>)).not.toThrow();
  });

  it('the in-process dispatcher of npm start delivers an event with no one asking; deliveries lists it; redeliver sends it again', async () => {
    const headers = { authorization: `Bearer ${plane.adminToken}`, 'content-type': 'application/json' };
    await fetch(`${plane.url}/v1/apps/cli-notified`, { method: 'PUT', headers, body: JSON.stringify({ repository: '127.0.0.1:5000/team/x' }) });
    const published = await fetch(`${plane.url}/v1/apps/cli-notified/releases`, { method: 'POST', headers, body: JSON.stringify({ version: '1.0.0', digest: `sha256:${'c'.repeat(64)}` }) });
    expect(published.status).toBe(201);
    const eventId = ((await published.json()) as { eventId: string }).eventId;
    // this subscription's (at /; the one at /other takes every type too)
    const ours = () => receiver.received.filter((r) => r.path === '/' && r.headers['webhook-id'] === eventId);
    const arrived = async (count: number) => {
      const deadline = Date.now() + 10_000;
      while (ours().length < count && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 50));
      expect(ours()).toHaveLength(count);
    };
    await arrived(1);
    // links open this server's own dashboard (npm start's default public URL)
    expect(JSON.parse(ours()[0]!.body).links.dashboard).toBe(`${plane.url}/ui/apps/cli-notified`);
    const deliveries = await flotilla(['notify', 'deliveries', id]);
    expect(deliveries.code).toBe(0);
    expect(deliveries.stdout).toMatch(new RegExp(`${eventId}\\s+release\\.published\\s+delivered\\s+1\\s+delivered \\(200\\)`));
    const again = await flotilla(['notify', 'redeliver', id, eventId]);
    expect(again.code, again.stderr).toBe(0);
    await arrived(2);
  });

  it('test of a failing receiver exits 1 naming the status', async () => {
    const created = JSON.parse((await flotilla(['notify', 'create', '--webhook', failing.url, '--json'])).stdout);
    const result = await flotilla(['notify', 'test', created.id]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/failed: HTTP 500/);
    expect((await flotilla(['notify', 'delete', created.id])).code).toBe(0);
  });

  it('a GitHub destination takes its token from a file and never prints it', async () => {
    const file = join(work, 'token');
    await writeFile(file, 'ghp_fromAFile123\n');
    const created = await flotilla(['notify', 'create', '--github', '--github-token-file', file, '--github-api', `${receiver.url}/api`]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout + (await flotilla(['notify', 'list', '--json'])).stdout).not.toContain('ghp_fromAFile123');
    const missing = await flotilla(['notify', 'create', '--github'], { FLOTILLA_GITHUB_TOKEN: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/FLOTILLA_GITHUB_TOKEN/);
  });

  it.each([
    [['notify', 'create', '--webhook', 'http://10.0.0.1/hook'], 2, /body\.destination\.url: refused: 10\.0\.0\.1 is a loopback, link-local, private or reserved address/],
    [['notify', 'create', '--webhook', 'https://h.example.com', '--type', 'release.exploded'], 2, /body\.filter\.types\.0: is not an event type/],
    [['notify', 'create'], 2, /give one destination/],
    [['notify', 'test', '0123456789abcdef'], 4, /subscription 0123456789abcdef not found/],
    [['notify', 'deliveries', 'x', '--limit', '1000'], 2, /--limit must be a whole number from 1 to 100/],
    [['notify', 'frobnicate'], 2, /usage: flotilla notify create\|list/],
  ])('%j fails in one sentence with exit %i', async (args, code, message) => {
    const result = await flotilla(args);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
