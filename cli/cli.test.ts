// The CLI as a separate process, against the real control plane (embedded default over HTTP)
// and the real OCI registries of the test environment.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalControlPlane, type LocalControlPlane } from '../functions/local-server.ts';
import { requireTestEnv } from '../test/env/inject.ts';
import type { Approval, FleetCell, FreezeState, Rollout } from '../lib/api/schemas.ts';
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
  }, 90_000);

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
  }, 90_000);

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

describe('flotilla progressive delivery', () => {
  // Runs after the promotion tests: web@1.0.0 and web@1.0.1 are published (by admin) and not blocked.
  const json = <T>(result: { stdout: string }) => JSON.parse(result.stdout) as T;
  const oneSentence = (result: { stderr: string }) => expect(result.stderr.trim().split('\n')).toHaveLength(1);

  it('creates an environment with waves from --config, refusing a bad file in one sentence', async () => {
    const config = join(work, 'stage.json');
    await writeFile(
      config,
      JSON.stringify({ gates: { approvals: 1 }, waves: [{ name: 'canary', regions: ['us'] }, { name: 'rest', regions: ['eu'] }], autoRollback: true }),
    );
    const malformed = join(work, 'malformed-stage.json');
    const invalid = join(work, 'invalid-stage.json');
    await writeFile(malformed, '{"waves": ');
    await writeFile(invalid, JSON.stringify({ waves: [{ name: 'Not A Name' }], upstream: 'dev' }));
    const create = (file: string) => flotilla(['env', 'create', 'stage', '--config', file]);
    const [unreadable, notJson, wrong] = await Promise.all([create(join(work, 'absent.json')), create(malformed), create(invalid)]);
    expect(unreadable.stderr).toMatch(/^flotilla: cannot read --config .*absent\.json: ENOENT/);
    expect(notJson.stderr).toMatch(/^flotilla: --config .*malformed-stage\.json is not valid JSON/);
    expect(wrong.stderr).toMatch(/^flotilla: --config .*invalid-stage\.json: .*waves\.0\.name: .*upstream/);
    for (const result of [unreadable, notJson, wrong]) {
      expect(result.code).toBe(2);
      oneSentence(result);
    }

    const created = await flotilla(['env', 'create', 'stage', '--upstream', 'dev', '--config', config]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/environment stage \(upstream dev\), waves canary → rest/);
    for (const args of [['policy', 'web', 'stage', '--manual'], ['cluster', 'create', 'stage-us-1', '--env', 'stage', '--region', 'us']]) {
      const result = await flotilla(args);
      expect(result.code, result.stderr).toBe(0);
    }
  });

  it('refuses a promotion until approved (never by the publisher), then starts a rollout and shows it', async () => {
    const gated = await flotilla(['promote', 'web', '1.0.0', '--to', 'stage', '--reason', 'next']);
    expect(gated.code).toBe(5);
    expect(gated.stderr).toMatch(/gates failed .*approvals/);
    const [self, issued] = await Promise.all([
      flotilla(['approve', 'web', '1.0.0', '--env', 'stage', '--reason', 'lgtm']),
      flotilla(['token', 'create', '--subject', 'alice', '--role', 'promoter', '--env', 'stage', '--json']),
    ]);
    expect(self.code).toBe(3);
    expect(self.stderr).toMatch(/admin published web@1\.0\.0 and may not approve it/);
    const alice = { FLOTILLA_TOKEN: json<{ token: string }>(issued).token };
    const approved = await flotilla(['approve', 'web', '1.0.0', '--env', 'stage', '--reason', 'lgtm'], alice);
    expect(approved.stdout).toMatch(/web@1\.0\.0 approved for stage by alice: lgtm/);
    const again = await flotilla(['approve', 'web', '1.0.0', '--env', 'stage', '--reason', 'lgtm', '--json'], alice);
    expect(json<Approval>(again)).toMatchObject({ app: 'web', version: '1.0.0', environment: 'stage', actor: 'alice' });

    const started = await flotilla(['promote', 'web', '1.0.0', '--to', 'stage', '--reason', 'approved']);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout.trim()).toBe('rollout stage-1 started: wave canary moving');

    const [human, machine] = await Promise.all([flotilla(['rollout', 'status', 'web']), flotilla(['rollout', 'status', 'web', '--env', 'stage', '--json'])]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^rollout stage-1 of web in stage: nothing → 1\.0\.0, running \(wave canary moving\)/);
    expect(human.stdout).toMatch(/WAVE\s+STATUS\s+MOVED\ncanary\s+moving\s+\d+s ago\nrest\s+pending\s+-/);
    expect(human.stdout).toMatch(/GATE\s+PASSED\s+DETAIL\s+OVERRIDDEN\n[\s\S]*approvals\s+yes\s/);
    expect(human.stdout).toMatch(/CLUSTER\s+WAVE\s+PHASE\s+VERSION\s+SOAKED\nstage-us-1\s+canary\s+/);
    const rollout = json<Rollout>(machine);
    expect(rollout).toMatchObject({ id: 'stage-1', version: '1.0.0', status: 'running', autoRollback: true });
    expect(rollout.progress).toEqual([expect.objectContaining({ cluster: 'stage-us-1', wave: 'canary' })]);
  });

  it('pauses, resumes and aborts a rollout', async () => {
    const paused = await flotilla(['rollout', 'pause', 'web', 'stage-1', '--reason', 'look at the canary']);
    expect(paused.stdout).toMatch(/^rollout stage-1 of web in stage: nothing → 1\.0\.0, paused$/m);
    const twice = await flotilla(['rollout', 'pause', 'web', 'stage-1', '--reason', 'again']);
    expect(twice.code).toBe(5);
    expect(twice.stderr).toMatch(/rollout stage-1 is paused; it cannot pause/);
    expect((await flotilla(['rollout', 'resume', 'web', 'stage-1', '--reason', 'fine'])).stdout).toMatch(/, running$/m);
    const aborted = await flotilla(['rollout', 'abort', 'web', 'stage-1', '--reason', 'wrong release', '--json']);
    expect(json<Rollout>(aborted)).toMatchObject({ id: 'stage-1', status: 'aborted', statusReason: 'admin aborted it: wrong release' });

    const failures = await Promise.all([
      flotilla(['rollout', 'status', 'web', 'stage-99']),
      flotilla(['rollout', 'status', 'web', '--env', 'prod', 'stage-1']),
      flotilla(['rollout', 'abort', 'web', 'stage-1']),
      flotilla(['rollout', 'restart', 'web', 'stage-1']),
    ]);
    expect(failures.map((result) => result.code)).toEqual([4, 2, 2, 2]);
    expect(failures.map((result) => result.stderr)).toEqual([
      expect.stringMatching(/rollout stage-99 of web not found/),
      expect.stringMatching(/rollout stage-1 is not in environment prod/),
      expect.stringMatching(/missing --reason/),
      expect.stringMatching(/usage: flotilla rollout status/),
    ]);
  });

  it('promotes through failed gates with --override, and block --recall stops the rollout', async () => {
    const overridden = await flotilla(['promote', 'web', '1.0.1', '--to', 'stage', '--reason', 'hotfix', '--override', 'incident 12', '--json']);
    expect(overridden.code, overridden.stderr).toBe(0);
    const rollout = json<Rollout>(overridden);
    expect(rollout).toMatchObject({ id: 'stage-2', version: '1.0.1', status: 'running' });
    expect(rollout.gates).toContainEqual(expect.objectContaining({ name: 'approvals', passed: false, overridden: 'incident 12' }));
    expect((await flotilla(['rollout', 'status', 'web', '--env', 'stage'])).stdout).toMatch(/approvals\s+no\s.*incident 12/);

    const recalled = await flotilla(['block', 'web', '1.0.1', '--reason', 'corrupts data', '--recall']);
    expect(recalled.stdout).toMatch(/web@1\.0\.1 blocked and recalled: corrupts data/);
    expect((await flotilla(['rollout', 'status', 'web', 'stage-2'])).stdout).toMatch(
      /^rollout stage-2 of web in stage: nothing → 1\.0\.1, recalled\nstarted by admin .*: hotfix\nlast: recalled by admin: corrupts data\n/,
    );
    const unblockRecall = await flotilla(['unblock', 'web', '1.0.1', '--reason', 'fixed', '--recall']);
    expect(unblockRecall.code).toBe(2);
    expect((await flotilla(['unblock', 'web', '1.0.1', '--reason', 'fixed'])).code).toBe(0);
  });

  it('shows, sets and lifts the freeze', async () => {
    expect((await flotilla(['freeze'])).stdout.trim()).toBe('not frozen');
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const frozen = await flotilla(['freeze', '--reason', 'release night', '--until', until]);
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(frozen.stdout).toMatch(new RegExp(`^frozen by admin since \\S+ until ${until.replace(/\./g, '\\.')}: release night`));
    expect(json<FreezeState>(await flotilla(['freeze', '--json']))).toMatchObject({ frozen: true, freeze: { reason: 'release night', by: 'admin', until } });
    const noReason = await flotilla(['freeze', '--until', until]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/missing --reason/);

    const lifted = await flotilla(['unfreeze', '--reason', 'shipped', '--json']);
    expect(json<FreezeState>(lifted)).toEqual({ frozen: false, freeze: null });
    const nothing = await flotilla(['unfreeze', '--reason', 'again']);
    expect(nothing.code).toBe(5);
    expect(nothing.stderr).toMatch(/there is no freeze to lift/);
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
