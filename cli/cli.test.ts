// The CLI as a separate process, against the real control plane (embedded default over HTTP)
// and the real OCI registries of the test environment.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalControlPlane, type LocalControlPlane } from '../functions/local-server.ts';
import { requireTestEnv } from '../test/env/inject.ts';
import type { FleetCell } from '../lib/api/schemas.ts';
import { runFlotilla } from '../test/support/cli.ts';


let plane: LocalControlPlane;
let work: string;
let env: Record<string, string>;

const flotilla = (args: string[], extraEnv: Record<string, string> = {}) => runFlotilla(args, { ...env, ...extraEnv });

async function manifests(dir: string, replicas: number, extra: Record<string, string> = {}) {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'deployment.yaml'),
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: ${replicas}\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n`,
  );
  for (const [name, text] of Object.entries(extra)) await writeFile(join(dir, name), text);
}

beforeAll(async () => {
  const testEnv = requireTestEnv();
  work = await mkdtemp(join(tmpdir(), 'flotilla-cli-'));
  plane = await startLocalControlPlane({ dataDir: join(work, 'data') });
  env = {
    FLOTILLA_URL: plane.url,
    FLOTILLA_TOKEN: plane.adminToken,
    FLOTILLA_CONFIG: join(work, 'no-config.json'),
    DOCKER_CONFIG: join(work, 'docker'),
  };
  const registry = testEnv.registries.anonymous.host;
  for (const args of [
    ['env', 'create', 'dev'],
    ['env', 'create', 'prod', '--upstream', 'dev'],
    ['app', 'create', 'web', '--repository', `${registry}/cli-test/web`, '--namespace', 'web'],
    ['app', 'create', 'locked', '--repository', `${testEnv.registries.basic.host}/cli-test/locked`],
    ['policy', 'web', 'dev', '--track', '^1.0.0'],
    ['policy', 'web', 'prod', '--manual'],
  ]) {
    const result = await flotilla(args);
    expect(result.code, result.stderr).toBe(0);
  }
  await manifests(join(work, 'v1'), 1);
});

afterAll(async () => {
  await plane?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('flotilla publish', () => {
  it('builds, pushes and registers a release, printing the digest; re-running is idempotent', async () => {
    const first = await flotilla(['publish', join(work, 'v1'), '--app', 'web', '--version', '1.0.0']);
    expect(first.code, first.stderr).toBe(0);
    const digest = /sha256:[a-f0-9]{64}/.exec(first.stdout)?.[0];
    expect(digest).toBeDefined();
    expect(first.stderr).toMatch(/pushing (config|layer|manifest)/);
    const release = await flotilla(['publish', join(work, 'v1'), '--app', 'web', '--version', 'v1.0.0', '--json']);
    expect(release.code, release.stderr).toBe(0);
    expect(JSON.parse(release.stdout)).toMatchObject({ version: '1.0.0', digest, alreadyPublished: true, tag: 'v1.0.0' });
  });

  it('refuses to publish other content under a published version', async () => {
    await manifests(join(work, 'changed'), 3);
    const result = await flotilla(['publish', join(work, 'changed'), '--app', 'web', '--version', '1.0.0']);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/already published with digest sha256:/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    ['a missing directory', ['publish', '/nonexistent/dir', '--app', 'web', '--version', '1.0.1'], 2, /is not a directory/],
    ['an invalid semver', ['publish', 'VERSION_DIR', '--app', 'web', '--version', '1.0'], 2, /not a semantic version/],
    ['an unknown app', ['publish', 'VERSION_DIR', '--app', 'nope', '--version', '1.0.1'], 4, /app nope not found/],
    ['a missing option', ['promote', 'web', '1.0.0', '--to', 'prod'], 2, /missing --reason/],
    ['an unknown command', ['launch'], 2, /unknown command "launch"/],
  ])('fails clearly on %s', async (_name, args, code, message) => {
    const result = await flotilla(args.map((a) => (a === 'VERSION_DIR' ? join(work, 'v1') : a)));
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports a registry authentication failure in one sentence', async () => {
    const testEnv = requireTestEnv();
    const result = await flotilla(['publish', join(work, 'v1'), '--app', 'locked', '--version', '1.0.0'], {
      FLOTILLA_REGISTRY_USERNAME: testEnv.registries.basic.username!,
      FLOTILLA_REGISTRY_PASSWORD: 'wrong-password',
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^flotilla: push to .* failed: .*/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const ok = await flotilla(['publish', join(work, 'v1'), '--app', 'locked', '--version', '1.0.0'], {
      FLOTILLA_REGISTRY_USERNAME: testEnv.registries.basic.username!,
      FLOTILLA_REGISTRY_PASSWORD: testEnv.registries.basic.password!,
    });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('diffs a directory against a published release', async () => {
    const same = await flotilla(['diff', join(work, 'v1'), '--app', 'web', '--version', '1.0.0']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/no differences/);
    await manifests(join(work, 'v2'), 2, { 'configmap.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n' });
    const changed = await flotilla(['diff', join(work, 'v2'), '--app', 'web', '--version', '1.0.0']);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/added configmap\.yaml/);
    expect(changed.stdout).toMatch(/modified deployment\.yaml[\s\S]*- {3}replicas: 1\n\+ {3}replicas: 2/);
  });
});

describe('flotilla promotion and fleet commands', () => {
  it('promotes, shows history and status, blocks and rolls back', async () => {
    await manifests(join(work, 'v101'), 2);
    expect((await flotilla(['publish', join(work, 'v101'), '--app', 'web', '--version', '1.0.1'])).code).toBe(0);
    const promoted = await flotilla(['promote', 'web', '1.0.0', '--to', 'prod', '--region', 'us', '--reason', 'soaked in dev']);
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(promoted.stdout).toMatch(/promote web prod\/us: .* → 1\.0\.0 \(#1 by admin\)/);
    await flotilla(['promote', 'web', '1.0.1', '--to', 'prod', '--region', 'us', '--reason', 'fix']);
    const again = await flotilla(['promote', 'web', '1.0.1', '--to', 'prod', '--region', 'us', '--reason', 'again']);
    expect(again.code).toBe(5);

    const history = await flotilla(['history', 'web', '--json']);
    expect(JSON.parse(history.stdout).map((r: { toVersion: string }) => r.toVersion)).toEqual(['1.0.0', '1.0.1']);
    expect((await flotilla(['history', 'web'])).stdout).toMatch(/TIME\s+ENV\s+REGION\s+KIND/);

    await flotilla(['cluster', 'create', 'prod-us-1', '--env', 'prod', '--region', 'us', '--label', 'tier=web']);
    const status = await flotilla(['status', '--json']);
    const cell = JSON.parse(status.stdout).cells.find((c: FleetCell) => c.environment === 'prod' && c.region === 'us');
    expect(cell).toMatchObject({ app: 'web', desiredVersion: '1.0.1', clusters: 1 });
    expect((await flotilla(['status'])).stdout).toMatch(/web\s+prod\s+us\s+1\.0\.1/);

    const blocked = await flotilla(['block', 'web', '1.0.1', '--reason', 'leaks memory']);
    expect(blocked.stdout).toMatch(/blocked: leaks memory/);
    const dev = await flotilla(['status', '--json']);
    expect(JSON.parse(dev.stdout).cells.filter((c: FleetCell) => c.environment === 'dev')).toEqual([]);
    expect((await flotilla(['unblock', 'web', '1.0.1', '--reason', 'false alarm'])).code).toBe(0);

    const rollback = await flotilla(['rollback', 'web', '--env', 'prod', '--region', 'us', '--reason', 'errors']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stdout).toMatch(/rollback web prod\/us: 1\.0\.1 → 1\.0\.0/);
  });

  it('manages clusters, tokens, suspension, drift and events', async () => {
    const token = await flotilla(['cluster', 'token', 'prod-us-1', '--json']);
    expect(JSON.parse(token.stdout).token).toMatch(/^ey/);
    expect((await flotilla(['suspend', 'prod-us-1', '--reason', 'incident 7'])).stdout).toMatch(/prod-us-1 suspended/);
    const clusters = await flotilla(['clusters']);
    expect(clusters.stdout).toMatch(/prod-us-1\s+prod\s+us\s+not registered\s+never\s+yes: incident 7/);
    expect((await flotilla(['resume', 'prod-us-1', '--reason', 'over'])).code).toBe(0);
    const drift = await flotilla(['drift', 'prod-us-1']);
    expect(drift.stdout).toMatch(/no current drift/);

    const viewer = await flotilla(['token', 'create', '--subject', 'dev-bob', '--role', 'promoter', '--env', 'dev', '--json']);
    const bob = JSON.parse(viewer.stdout).token as string;
    const denied = await flotilla(['promote', 'web', '1.0.1', '--to', 'prod', '--reason', 'please'], { FLOTILLA_TOKEN: bob });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/may not promote app web in environment prod/);

    const events = await flotilla(['events', '--type', 'cluster.suspended', '--json']);
    expect(JSON.parse(events.stdout)).toEqual([expect.objectContaining({ actor: 'admin', cluster: 'prod-us-1' })]);
    const onePage = JSON.parse((await flotilla(['events', '--limit', '2', '--json'])).stdout);
    const everything = JSON.parse((await flotilla(['events', '--limit', '2', '--all', '--json'])).stdout);
    expect(onePage).toHaveLength(2);
    expect(everything.length).toBeGreaterThan(10);
    expect(everything.slice(-2)).toEqual(onePage);
  });

  it('renders agent install manifests with a fresh registration token', async () => {
    const result = await flotilla(['agent', 'install', 'prod-us-1', '--least-privilege', '--image', 'registry.example/agent:1']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/kind: Deployment/);
    expect(result.stdout).toMatch(/registry\.example\/agent:1/);
    expect(result.stdout).not.toMatch(/cluster-admin/);
  });

  it('fails in one sentence when the control plane is unreachable', async () => {
    const result = await flotilla(['status'], { FLOTILLA_URL: 'http://127.0.0.1:9' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^flotilla: cannot reach the control plane at http:\/\/127\.0\.0\.1:9/);
  });
});

describe('flotilla settings', () => {
  it('fails in one sentence naming every bad setting, with exit code 2', async () => {
    const config = join(work, 'malformed-config.json');
    await writeFile(config, '{"url": ');
    const result = await flotilla(['status'], { FLOTILLA_URL: 'not a url', FLOTILLA_CONFIG: config });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^flotilla: bad settings: FLOTILLA_URL: must be an http\(s\) URL; config file .*malformed-config\.json is not valid JSON/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
