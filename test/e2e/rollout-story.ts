// The progressive-delivery story across three real clusters, told once: `npm test` asserts it
// (rollout.test.ts), `npm run demo` narrates it after the GitOps story. Prod has two waves, us then
// eu, with gates on entering it; every step checks what a person would look at and fails loudly.
//
// The failing wave is real, not simulated: prod-eu's apiserver enforces an EU data-residency rule
// (a ValidatingAdmissionPolicy bound to the app's namespace, on prod-eu only), and v1.1.0 adds a
// container env var that sends telemetry to a US endpoint. dev and prod-us run it; on prod-eu the
// apiserver refuses the Deployment, the agent reports Failed, and the rollout rolls itself back.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONVERGE_MS, INTERVAL_SECONDS, World, steps, waitFor } from './world.ts';
import { sleep } from '../../lib/sleep.ts';

/** What this story owns on the shared clusters: test files run in parallel. */
export const ROLLOUT_WORLD = { app: 'checkout', agentNamespace: 'flotilla-e2e-rollout', clockSeconds: INTERVAL_SECONDS } as const;
export const SOAK_SECONDS = 8;
export const DEADLINE_SECONDS = 120;
const CLUSTERS = ['dev', 'prod-us', 'prod-eu'];
/** What v1.1.0 adds, and what prod-eu's policy refuses. */
const US_TELEMETRY = { TELEMETRY_ENDPOINT: 'https://telemetry.us.example/v1' };

type Narrate = (line: string) => void;

/** The prod environment: gates on entering it, two waves, and a failing wave rolls back. */
export function prodSpec(soakSeconds = SOAK_SECONDS, deadlineSeconds = DEADLINE_SECONDS) {
  return {
    upstream: 'dev',
    gates: { upstreamReadyShare: 1, soakSeconds, approvals: 1 },
    waves: [
      { name: 'us', regions: ['us'], soakSeconds, deadlineSeconds },
      { name: 'eu', regions: ['eu'], soakSeconds, deadlineSeconds },
    ],
    autoRollback: true,
  };
}

/** The fleet of the rollout stories: dev tracks ^1.0.0, prod is manual and progressive, one agent per cluster. */
export async function setUpFleet(world: World, narrate: Narrate = () => {}, prod: object = prodSpec()) {
  await world.startControlPlane();
  narrate(`control plane listening on ${world.url} (its rollout clock runs every ${ROLLOUT_WORLD.clockSeconds} s)`);
  await world.defineFleet(prod);
  await world.startAgents(CLUSTERS, narrate);
  return {
    ci: await world.mintToken('ci-bot', { role: 'publisher', apps: [world.app] }),
    alice: await world.mintToken('sre-alice', { role: 'promoter' }),
    bob: await world.mintToken('sre-bob', { role: 'promoter' }),
  };
}

/** CI publishes a version with the CLI, as in the GitOps story. */
export async function publish(world: World, ci: string, version: string, containerEnv?: Record<string, string>): Promise<string> {
  const published = await world.flotilla(['publish', await world.manifests(version, { containerEnv }), '--app', world.app, '--version', version], ci);
  assert.equal(published.code, 0, published.stderr);
  return published.stdout.trim().replace(/\n/g, ' ');
}

/** Waits until the cluster has run the version Ready for the soak, by its own readySince. */
export async function waitForSoak(world: World, cluster: string, version: string, soakSeconds = SOAK_SECONDS): Promise<Date> {
  const status = (await world.apiOk('GET', `/v1/clusters/${cluster}`, world.adminToken)).body.apps[world.app];
  assert.equal(status?.version, version, `${cluster} runs ${world.app}@${version}`);
  assert.equal(status.phase, 'Ready', `${cluster} is Ready at ${version}`);
  const soakedAt = new Date(Date.parse(status.readySince) + soakSeconds * 1000);
  await sleep(Math.max(0, soakedAt.getTime() - Date.now() + 250));
  return soakedAt;
}

/** The rollout as the list shows it. The list does not advance rollouts (a read of one does), so waiting on it shows what reports and the clock did. */
export async function listedRollout(world: World, id: string): Promise<any> {
  const { body } = await world.apiOk('GET', `/v1/apps/${world.app}/rollouts?environment=prod`, world.adminToken);
  return body.items.find((rollout: { id: string }) => rollout.id === id);
}

export async function waitForRollout(world: World, id: string, what: string, check: (rollout: any) => boolean, timeoutMs = CONVERGE_MS + SOAK_SECONDS * 1000): Promise<any> {
  return waitFor(`rollout ${id}: ${what}`, async () => {
    const rollout = await listedRollout(world, id);
    return rollout && check(rollout) ? rollout : null;
  }, timeoutMs);
}

const waveStatuses = (rollout: { waves: { status: string }[] }) => rollout.waves.map((wave) => wave.status).join(',');

/** prod-eu's data-residency rule: the apiserver refuses a Deployment of the app that sends telemetry outside the EU. */
async function installEuPolicy(world: World): Promise<string> {
  const name = `${world.app}-eu-data-residency`;
  const file = join(world.dir, `${name}.yaml`);
  await writeFile(
    file,
    `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${name}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
  - expression: >-
      object.spec.template.spec.containers.all(c, !has(c.env) || c.env.all(e,
      e.name != 'TELEMETRY_ENDPOINT' || (has(e.value) && e.value.startsWith('https://telemetry.eu.'))))
    message: EU data residency - TELEMETRY_ENDPOINT must be an EU endpoint
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ${name}}
spec:
  policyName: ${name}
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: ${world.app}}
`,
  );
  await world.kubectl('prod-eu', ['apply', '-f', file]);
  return name;
}

/** Removes what installEuPolicy put on prod-eu (the clusters are shared). */
export async function removeEuPolicy(world: World) {
  const name = `${world.app}-eu-data-residency`;
  await world.kubectl('prod-eu', ['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', name, '--ignore-not-found']).catch(() => undefined);
}

/** The apiserver's verdict on a version's Deployment, by a server-side dry run: null when accepted. */
async function dryRunRefusal(world: World, cluster: string, version: string): Promise<string | null> {
  try {
    await world.kubectl(cluster, ['apply', '--dry-run=server', '-f', join(world.dir, 'src', version, 'deployment.yaml'), '-n', world.app]);
    return null;
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err).trim();
  }
}

export async function runRolloutStory(world: World, narrate: Narrate = () => {}): Promise<{ seconds: Record<string, number> }> {
  const { seconds, timed } = steps(narrate);
  const app = world.app;
  const admin = () => world.adminToken;
  const promote = (token: string, version: string, reason: string, override?: string) =>
    world.api('POST', `/v1/apps/${app}/promotions`, token, { environment: 'prod', version, reason, ...(override ? { override } : {}) });
  const approve = (token: string, version: string, reason: string) => world.apiOk('POST', `/v1/apps/${app}/releases/${version}/approvals`, token, { environment: 'prod', reason });
  const prodHistory = async () => (await world.apiOk('GET', `/v1/apps/${app}/promotions?environment=prod&limit=1000`, admin())).body.items as any[];
  let tokens = { ci: '', alice: '', bob: '' };

  /** A promotion that starts a rollout; the first wave (us) moves at once. */
  const startRollout = async (token: string, version: string, reason: string, override?: string) => {
    const started = await promote(token, version, reason, override);
    assert.equal(started.status, 202, `the promotion starts a rollout: ${JSON.stringify(started.body)}`);
    assert.equal(started.body.version, version);
    assert.equal(waveStatuses(started.body), 'moving,pending', 'wave us moves at once, eu waits');
    return started.body;
  };

  /** Wave us runs the version; eu is untouched until us has soaked; then the clock moves eu. */
  const watchWaves = async (id: string, version: string) => {
    await world.waitForVersion('prod-us', version);
    const meanwhile = await listedRollout(world, id);
    assert.equal(waveStatuses(meanwhile), 'moving,pending', 'eu waits while us soaks');
    assert.notEqual((await world.api('GET', `/v1/clusters/prod-eu`, admin())).body.apps[app]?.version, version, 'prod-eu does not run it yet');
    narrate(`wave us: prod-us runs ${app}@${version} Ready; wave eu pending while us soaks (${SOAK_SECONDS} s)`);
    const usSoaked = await waitForSoak(world, 'prod-us', version);
    const moved = await waitForRollout(world, id, 'wave eu moves after the soak', (rollout) => rollout.waves[1].status !== 'pending');
    const euMovedAt = Date.parse(moved.waves[1].movedAt);
    assert.ok(euMovedAt >= usSoaked.getTime(), `wave eu moved at ${moved.waves[1].movedAt}, not before us soaked (${usSoaked.toISOString()})`);
    assert.equal(moved.waves[0].status, 'done');
    narrate(`wave us soaked; the clock moved wave eu ${((euMovedAt - usSoaked.getTime()) / 1000).toFixed(1)} s after the soak ended`);
    return moved;
  };

  await timed('0. The platform team sets up a progressive prod', async () => {
    tokens = await setUpFleet(world, narrate);
    const prod = (await world.apiOk('GET', '/v1/environments', admin())).body.items.find((env: { name: string }) => env.name === 'prod');
    assert.deepEqual(prod.waves.map((wave: { name: string; regions: string[] }) => [wave.name, wave.regions]), [['us', ['us']], ['eu', ['eu']]]);
    assert.equal(prod.autoRollback, true);
    narrate(`prod: gates {upstream dev 100% Ready for ${SOAK_SECONDS} s, 1 approval}; waves us → eu, soak ${SOAK_SECONDS} s, deadline ${DEADLINE_SECONDS} s; autoRollback`);
    const policy = await installEuPolicy(world);
    narrate(`prod-eu's apiserver enforces EU data residency (ValidatingAdmissionPolicy ${policy})`);
  });

  await timed('1. CI publishes v1.0.0; dev follows; the gates hold prod until dev has soaked and someone approved', async () => {
    narrate(`CI: ${await publish(world, tokens.ci, '1.0.0')}`);
    await world.waitForVersion('dev', '1.0.0');
    narrate(`dev runs ${app}@1.0.0 Ready`);
    const early = await promote(tokens.alice, '1.0.0', 'ship it');
    assert.equal(early.status, 409, 'a promotion before the gates pass is refused');
    assert.match(early.body.error.message, /upstream-ready: 0 of 1 clusters of dev/);
    assert.match(early.body.error.message, /approvals: 0 of 1 required approvals/);
    narrate(`alice, too early: 409 ${early.body.error.message}`);
    const approval = await approve(tokens.bob, '1.0.0', 'read the diff');
    assert.equal(approval.status, 201);
    narrate(`bob (not the publisher ci-bot) approves 1.0.0 for prod`);
    await waitForSoak(world, 'dev', '1.0.0');
    narrate(`dev has run 1.0.0 Ready for ${SOAK_SECONDS} s`);
  });

  await timed('2. alice promotes v1.0.0 to prod: a rollout, wave us then wave eu', async () => {
    const rollout = await startRollout(tokens.alice, '1.0.0', 'soaked in dev');
    assert.deepEqual(rollout.gates.map((gate: { name: string; passed: boolean }) => [gate.name, gate.passed]), [
      ['release-not-blocked', true],
      ['upstream-ready', true],
      ['window-open', true],
      ['approvals', true],
    ]);
    assert.deepEqual(rollout.gates[1].evidence.counted.map((cluster: { name: string }) => cluster.name), ['dev'], 'the upstream gate names the cluster it counted');
    assert.deepEqual(rollout.gates[3].evidence.counted.map((approval: { actor: string }) => approval.actor), ['sre-bob']);
    narrate(`202: rollout ${rollout.id}; gates passed with evidence (${rollout.gates[1].detail}; ${rollout.gates[3].detail})`);
    await watchWaves(rollout.id, '1.0.0');
    await world.waitForVersion('prod-eu', '1.0.0');
    const done = await waitForRollout(world, rollout.id, 'completed', (each) => each.status === 'completed');
    assert.equal(waveStatuses(done), 'done,done');
    narrate(`wave eu: prod-eu runs 1.0.0 Ready; after its soak rollout ${rollout.id} completed`);
    // The environment's record follows the 'completed' status by one write (the clock may still be
    // writing it when the list shows the rollout completed).
    const records = await waitFor('the completed rollout pins the environment', async () => {
      const ours = (await prodHistory()).filter((record) => record.rollout === rollout.id);
      return ours.some((record) => record.region === null) ? ours : null;
    }, CONVERGE_MS);
    assert.deepEqual(records.map((record) => [record.region, record.toVersion, record.kind, record.actor]), [
      ['us', '1.0.0', 'promote', 'sre-alice'],
      ['eu', '1.0.0', 'promote', 'sre-alice'],
      [null, '1.0.0', 'promote', 'sre-alice'],
    ]);
    narrate('promotion history: one record per wave region, then the environment, each naming the rollout');
  });

  await timed('3. v1.1.0 fails in eu: the rollout rolls itself back', async () => {
    narrate(`CI: ${await publish(world, tokens.ci, '1.1.0', US_TELEMETRY)} (adds TELEMETRY_ENDPOINT=${US_TELEMETRY.TELEMETRY_ENDPOINT})`);
    await world.waitForVersion('dev', '1.1.0');
    const refusal = await waitFor('prod-eu to refuse the v1.1.0 Deployment in a dry run', () => dryRunRefusal(world, 'prod-eu', '1.1.0'));
    assert.match(refusal, /EU data residency/);
    assert.equal(await dryRunRefusal(world, 'prod-us', '1.1.0'), null, 'prod-us accepts it');
    narrate(`dev runs 1.1.0; a server-side dry run on prod-eu says: ${refusal.split('\n').find((line) => /EU data residency/.test(line))}`);
    await approve(tokens.bob, '1.1.0', 'looks fine');
    await waitForSoak(world, 'dev', '1.1.0');
    const rollout = await startRollout(tokens.alice, '1.1.0', 'telemetry');
    narrate(`202: rollout ${rollout.id} of 1.1.0 (from ${rollout.fromVersion})`);
    await watchWaves(rollout.id, '1.1.0');
    const failed = await waitFor('prod-eu to report 1.1.0 Failed', async () => (await world.reportedVersion('prod-eu', 'Failed')) === '1.1.0', CONVERGE_MS);
    assert.ok(failed);
    const event = await waitFor(
      'the failure to be in the audit log',
      async () => (await world.api('GET', `/v1/events?cluster=prod-eu&app=${app}&type=reconcile.failed`, admin())).body.items.find((e: any) => e.data?.version === '1.1.0'),
      CONVERGE_MS,
    );
    assert.match(event.message, /EU data residency/);
    narrate(`prod-eu reports Failed: ${event.message.replace(/ValidatingAdmissionPolicy.*denied request: /, '… ')}`);
    const back = await waitForRollout(world, rollout.id, 'rolled back', (each) => each.status === 'rolled-back', CONVERGE_MS);
    assert.equal(back.waves[1].status, 'failed');
    assert.match(back.waves[1].failedReason, /prod-eu Failed/);
    narrate(`rollout ${rollout.id} ${back.status}: ${back.statusReason}`);
    await world.waitForVersion('prod-us', '1.0.0');
    await world.waitForVersion('prod-eu', '1.0.0');
    const container = (await world.get('prod-us', 'deployment', app))?.spec.template.spec.containers[0];
    assert.equal(container?.env, undefined, 'prod-us runs the 1.0.0 Deployment again, without the telemetry env');
    narrate('prod-us and prod-eu run 1.0.0 Ready again');
    const rollbacks = (await prodHistory()).filter((record) => record.rollout === rollout.id && record.kind === 'rollback');
    assert.deepEqual(rollbacks.map((record) => [record.region, record.fromVersion, record.toVersion]).sort(), [['eu', '1.1.0', '1.0.0'], ['us', '1.1.0', '1.0.0']]);
    for (const record of rollbacks) assert.match(record.reason, new RegExp(`rolled back by rollout ${rollout.id}`));
    narrate(`history: ${rollbacks.map((record) => `${record.region} ${record.fromVersion} → ${record.toVersion} (${record.kind}: ${record.reason.slice(0, 60)}…)`).join('; ')}`);
    const blocked = await world.apiOk('POST', `/v1/apps/${app}/releases/1.1.0/block`, tokens.bob, { reason: 'refused by EU data residency' });
    assert.equal(blocked.body.blocked.reason, 'refused by EU data residency');
    narrate('bob blocks 1.1.0: tracking skips it from now on');
  });

  await timed('4. A freeze refuses promotions; break-glass goes through and says so', async () => {
    narrate(`CI: ${await publish(world, tokens.ci, '1.1.1')} (telemetry off until there is an EU endpoint)`);
    await world.waitForVersion('dev', '1.1.1');
    await approve(tokens.bob, '1.1.1', 'fix for the eu failure');
    await waitForSoak(world, 'dev', '1.1.1');
    const frozen = await world.apiOk('PUT', '/v1/freeze', tokens.alice, { reason: 'Black Friday' });
    assert.equal(frozen.body.frozen, true);
    narrate('alice freezes every environment: Black Friday');
    const refused = await promote(tokens.alice, '1.1.1', 'ship the fix');
    assert.equal(refused.status, 409, 'a promotion during the freeze is refused');
    assert.match(refused.body.error.message, /window-open: frozen by sre-alice: Black Friday/);
    assert.doesNotMatch(refused.body.error.message, /upstream-ready:|approvals:/, 'only the freeze holds it');
    narrate(`409: ${refused.body.error.message}`);
    const rollout = await startRollout(tokens.alice, '1.1.1', 'ship the fix', 'INC-77: checkout errors in prod');
    const windowGate = rollout.gates.find((gate: { name: string }) => gate.name === 'window-open');
    assert.deepEqual([windowGate.passed, windowGate.overridden], [false, 'INC-77: checkout errors in prod']);
    narrate(`break-glass: 202 rollout ${rollout.id}; gate window-open failed and was overridden: ${windowGate.overridden}`);
    await watchWaves(rollout.id, '1.1.1');
    await world.waitForVersion('prod-eu', '1.1.1');
    await waitForRollout(world, rollout.id, 'completed despite the freeze', (each) => each.status === 'completed');
    // The environment-wide pin lands right after the rollout is marked completed (the same step).
    const records = await waitFor('the rollout pins the environment', async () => {
      const mine = (await prodHistory()).filter((record) => record.rollout === rollout.id);
      return mine.some((record) => record.region === null) ? mine : null;
    }, 30_000);
    assert.deepEqual(records.map((record) => [record.region, record.kind]), [['us', 'break-glass'], ['eu', 'break-glass'], [null, 'break-glass']]);
    for (const record of records) assert.equal(record.gates.find((gate: { name: string }) => gate.name === 'window-open').overridden, 'INC-77: checkout errors in prod');
    narrate(`rollout ${rollout.id} completed through the freeze; its ${records.length} records are kind break-glass with the override's reason`);
    const lifted = await world.apiOk('POST', '/v1/freeze/lift', tokens.alice, { reason: 'Black Friday is over' });
    assert.equal(lifted.body.frozen, false);
    assert.equal((await world.apiOk('GET', '/v1/freeze', admin())).body.frozen, false);
    narrate('alice lifts the freeze');
  });

  await timed('5. A recall takes v1.1.1 out of every environment', async () => {
    const recalled = await world.apiOk('POST', `/v1/apps/${app}/releases/1.1.1/block`, tokens.bob, { reason: 'CVE-2026-0001 in 1.1.1', recall: true });
    assert.equal(recalled.body.recalled.by, 'sre-bob');
    const event = (await world.apiOk('GET', `/v1/events?app=${app}&type=release.recalled`, admin())).body.items[0];
    assert.deepEqual(event.data.moved.map((move: { pin: string; to: string }) => move.to), event.data.moved.map(() => '1.0.0'));
    assert.ok(event.data.moved.length >= 2, `the recall moved the prod pins: ${JSON.stringify(event.data.moved)}`);
    narrate(`bob: ${event.message}`);
    for (const cluster of CLUSTERS) await world.waitForVersion(cluster, '1.0.0');
    const cells = (await world.apiOk('GET', '/v1/fleet', admin())).body.cells.filter((cell: { app: string }) => cell.app === app);
    for (const cell of cells) assert.equal(cell.desiredVersion, '1.0.0', `${cell.environment}/${cell.region} wants 1.0.0`);
    narrate('dev, prod-us and prod-eu converged to 1.0.0, the newest good version (1.1.0 and 1.1.1 are blocked)');
    const recallRecords = (await prodHistory()).filter((record) => record.reason.startsWith('recall of 1.1.1'));
    assert.ok(recallRecords.every((record) => record.kind === 'rollback' && record.toVersion === '1.0.0'));
    narrate(`history: ${recallRecords.length} rollback records "recall of 1.1.1: …"`);
  });

  await timed('6. The audit log tells the rollouts in order', async () => {
    const events = (await world.apiOk('GET', '/v1/events?order=asc&limit=1000', admin())).body.items as any[];
    const story = events
      .filter((e) => /^(rollout\.|freeze\.|release\.(recalled|blocked)$)/.test(e.type))
      .map((e) => `${e.type} ${e.data?.rollout ?? ''} ${e.data?.wave ?? ''} ${e.data?.version ?? ''}`.replace(/\s+/g, ' ').trim());
    narrate(story.map((line) => `  ${line}`).join('\n'));
    assert.deepEqual(story, [
      'rollout.started prod-1 1.0.0',
      'rollout.wave-moved prod-1 us 1.0.0',
      'rollout.wave-moved prod-1 eu 1.0.0',
      'rollout.completed prod-1 1.0.0',
      'rollout.started prod-2 1.1.0',
      'rollout.wave-moved prod-2 us 1.1.0',
      'rollout.wave-moved prod-2 eu 1.1.0',
      'rollout.halted prod-2 eu 1.1.0',
      'rollout.rolled-back prod-2 1.1.0',
      'release.blocked 1.1.0',
      'freeze.started',
      'rollout.started prod-3 1.1.1',
      'rollout.wave-moved prod-3 us 1.1.1',
      'rollout.wave-moved prod-3 eu 1.1.1',
      'rollout.completed prod-3 1.1.1',
      'freeze.lifted',
      'release.blocked 1.1.1',
      'release.recalled 1.1.1',
    ]);
  });

  return { seconds };
}
