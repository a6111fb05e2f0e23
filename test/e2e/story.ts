// The GitOps story across three real clusters, told once: `npm test` asserts it, `npm run demo`
// narrates it. Every step checks what a person would look at, and fails loudly when it is not so.
import assert from 'node:assert/strict';
import { APP, CONVERGE_MS, INTERVAL_SECONDS, World, steps, waitFor } from './world.ts';
import { sleep } from '../../lib/sleep.ts';

type Narrate = (line: string) => void;

async function configMapMode(world: World, cluster: string): Promise<string | undefined> {
  return (await world.get(cluster, 'configmap', `${APP}-settings`))?.data?.mode;
}

const reportedVersion = (world: World, cluster: string, phase?: string) => world.reportedVersion(cluster, phase);
const waitForVersion = (world: World, cluster: string, version: string) => world.waitForVersion(cluster, version);

export async function runStory(world: World, narrate: Narrate = () => {}): Promise<{ seconds: Record<string, number> }> {
  const { seconds, timed } = steps(narrate);
  const admin = () => world.adminToken;

  await timed('0. The platform team sets up the fleet', async () => {
    await world.startControlPlane();
    narrate(`control plane listening on ${world.url}`);
    await world.defineFleet();
    await world.startAgents(['dev', 'prod-us', 'prod-eu'], narrate);
    narrate('dev tracks ^1.0.0; prod is manual; three agents registered');
  });

  const tokens = { ci: '', developer: '', sre: '' };
  await timed('1. CI publishes v1.0.0; dev follows, prod stays untouched', async () => {
    for (const [who, grant] of [
      ['ci', { role: 'publisher', apps: [APP] }],
      ['developer', { role: 'promoter', environments: ['dev'] }],
      ['sre', { role: 'promoter' }],
    ] as const) {
      tokens[who] = (await world.api('POST', '/v1/tokens', admin(), { subject: `${who}-bot`.replace('sre-bot', 'sre-alice').replace('developer-bot', 'dev-bob'), grants: [grant] })).body.token;
    }
    const published = await world.flotilla(['publish', await world.manifests('1.0.0'), '--app', APP, '--version', '1.0.0'], tokens.ci);
    assert.equal(published.code, 0, published.stderr);
    narrate(`CI: ${published.stdout.trim().replace(/\n/g, ' ')}`);
    await waitForVersion(world, 'dev', '1.0.0');
    const deployment = await world.get('dev', 'deployment', APP);
    assert.equal(deployment?.status?.availableReplicas, 2, 'the Deployment is Available on dev');
    assert.equal(await configMapMode(world, 'dev'), 'blue');
    narrate('dev runs storefront@1.0.0: Deployment Available (2/2), Service and ConfigMap applied');
    for (const cluster of ['prod-us', 'prod-eu']) assert.equal(await world.get(cluster, 'deployment', APP), null, `${cluster} is untouched`);
    narrate('prod-us and prod-eu are untouched (manual policy)');
  });

  await timed('2. Promotion rights, and prod region by region', async () => {
    const denied = await world.flotilla(['promote', APP, '1.0.0', '--to', 'prod', '--region', 'us', '--reason', 'looks fine'], tokens.developer);
    assert.equal(denied.code, 3, 'a developer cannot promote to prod');
    assert.match(denied.stderr, /may not promote/);
    narrate(`developer: ${denied.stderr.trim()}`);

    const us = await world.flotilla(['promote', APP, '1.0.0', '--to', 'prod', '--region', 'us', '--reason', 'soaked in dev'], tokens.sre);
    assert.equal(us.code, 0, us.stderr);
    narrate(`SRE: ${us.stdout.trim()}`);
    const fleet = (await world.api('GET', '/v1/fleet', admin())).body.cells;
    const cell = (region: string) => fleet.find((c: any) => c.environment === 'prod' && c.region === region);
    assert.equal(cell('us').desiredVersion, '1.0.0');
    assert.equal(cell('eu').desiredVersion, null, 'eu is not promoted yet');
    narrate('fleet: prod/us → 1.0.0, prod/eu → nothing yet');
    await waitForVersion(world, 'prod-us', '1.0.0');

    const eu = await world.flotilla(['promote', APP, '1.0.0', '--to', 'prod', '--region', 'eu', '--reason', 'us healthy for a soak'], tokens.sre);
    assert.equal(eu.code, 0, eu.stderr);
    narrate(`SRE: ${eu.stdout.trim()}`);
    await waitForVersion(world, 'prod-eu', '1.0.0');
    const history = (await world.api('GET', `/v1/apps/${APP}/promotions?environment=prod`, admin())).body.items;
    assert.deepEqual(
      history.map((r: any) => [r.region, r.toVersion, r.actor, r.reason]),
      [
        ['us', '1.0.0', 'sre-alice', 'soaked in dev'],
        ['eu', '1.0.0', 'sre-alice', 'us healthy for a soak'],
      ],
    );
    narrate('both promotions are records with actor and reason; prod-us and prod-eu run 1.0.0');
  });

  await timed('3. 2 AM: someone edits the ConfigMap in prod-us; the agent reverts it', async () => {
    await world.kubectl('prod-us', ['patch', 'configmap', `${APP}-settings`, '-n', APP, '--type=merge', '-p', '{"data":{"mode":"red"}}']);
    narrate('kubectl patch configmap storefront-settings mode=red (prod-us)');
    await waitFor('the ConfigMap to be reverted', async () => (await configMapMode(world, 'prod-us')) === 'blue', CONVERGE_MS);
    narrate('reverted to mode=blue');
    const event = await waitFor(
      'the drift to be visible from the control plane',
      async () =>
        (await world.api('GET', '/v1/clusters/prod-us/drift', admin())).body.events.find(
          (e: any) => e.type === 'drift.corrected' && e.data.object.startsWith('ConfigMap/'),
        ),
      CONVERGE_MS,
    );
    const field = event.data.fields.find((f: any) => f.path.includes('mode'));
    assert.ok(field, `the drift names the field: ${JSON.stringify(event.data.fields)}`);
    assert.deepEqual([field.before, field.after].sort(), ['blue', 'red']);
    const cli = await world.flotilla(['drift', 'prod-us'], admin());
    assert.match(cli.stdout, /drift\.corrected ConfigMap\/storefront\/storefront-settings/);
    narrate(`control plane: ${event.message}`);
    narrate(`CLI: ${cli.stdout.trim().split('\n').slice(-1)[0]}`);
  });

  await timed('4. Break-glass: suspend prod-us, hotfix by hand, publish the fix, resume', async () => {
    const suspend = await world.flotilla(['suspend', 'prod-us', '--reason', 'INC-42 hotfix'], tokens.sre);
    assert.equal(suspend.code, 0, suspend.stderr);
    await waitFor('the agent to see the suspension', async () => (await reportedVersion(world, 'prod-us', 'Suspended')) !== null, CONVERGE_MS);
    await world.kubectl('prod-us', ['patch', 'configmap', `${APP}-settings`, '-n', APP, '--type=merge', '-p', '{"data":{"mode":"green"}}']);
    narrate('suspended; kubectl patch mode=green as the hotfix');
    await waitFor(
      'the drift to be reported, not corrected',
      async () => (await world.api('GET', '/v1/clusters/prod-us', admin())).body.apps[APP]?.drifted > 0,
      CONVERGE_MS,
    );
    await sleep(INTERVAL_SECONDS * 2000);
    assert.equal(await configMapMode(world, 'prod-us'), 'green', 'the hotfix stays while suspended');
    narrate('drift reported (drifted > 0) and left alone: mode is still green');

    const fix = await world.flotilla(['publish', await world.manifests('1.0.1', { configMap: { mode: 'green', release: '1.0.1' } }), '--app', APP, '--version', '1.0.1'], tokens.ci);
    assert.equal(fix.code, 0, fix.stderr);
    const promote = await world.flotilla(['promote', APP, '1.0.1', '--to', 'prod', '--region', 'us', '--reason', 'INC-42 fix'], tokens.sre);
    assert.equal(promote.code, 0, promote.stderr);
    narrate(`v1.0.1 published and promoted to prod/us: ${promote.stdout.trim()}`);
    assert.equal((await world.flotilla(['resume', 'prod-us', '--reason', 'INC-42 resolved'], tokens.sre)).code, 0);
    await waitForVersion(world, 'prod-us', '1.0.1');
    await waitFor('the drift to clear', async () => (await world.api('GET', '/v1/clusters/prod-us', admin())).body.apps[APP]?.drifted === 0, CONVERGE_MS);
    const settings = (await world.get('prod-us', 'configmap', `${APP}-settings`))?.data;
    assert.deepEqual(settings, { mode: 'green', release: '1.0.1' }, 'the cluster runs 1.0.1 itself, not the hand-made hotfix');
    narrate('resumed: prod-us converged to 1.0.1 and the drift cleared');
  });

  await timed('5. Someone runs kubectl set image in prod-eu; it is reverted to the pinned image', async () => {
    await world.kubectl('prod-eu', ['set', 'image', `deployment/${APP}`, 'web=nginx:1.29.0', '-n', APP]);
    narrate('kubectl set image web=nginx:1.29.0 (prod-eu)');
    await waitFor(
      'the image to be reverted',
      async () => (await world.get('prod-eu', 'deployment', APP))?.spec.template.spec.containers[0].image === 'nginx:1.27.0',
      CONVERGE_MS,
    );
    narrate('reverted to nginx:1.27.0, the image of the pinned release');
  });

  await timed('6. v1.1.0 drops the ConfigMap; blocked; prod-us rolled back', async () => {
    const published = await world.flotilla(['publish', await world.manifests('1.1.0', { configMap: null }), '--app', APP, '--version', '1.1.0'], tokens.ci);
    assert.equal(published.code, 0, published.stderr);
    await waitForVersion(world, 'dev', '1.1.0');
    await waitFor('dev to prune the ConfigMap', async () => (await world.get('dev', 'configmap', `${APP}-settings`)) === null, CONVERGE_MS);
    narrate('dev tracked 1.1.0 and pruned the ConfigMap');
    const blocked = await world.flotilla(['block', APP, '1.1.0', '--reason', 'config missing'], tokens.sre);
    assert.equal(blocked.code, 0, blocked.stderr);
    await waitForVersion(world, 'dev', '1.0.1');
    await waitFor('the ConfigMap to return on dev', async () => (await configMapMode(world, 'dev')) === 'green', CONVERGE_MS);
    narrate('1.1.0 blocked: dev fell back to 1.0.1 and the ConfigMap returned');
    const rollback = await world.flotilla(['rollback', APP, '--env', 'prod', '--region', 'us', '--reason', 'back to the known good'], tokens.sre);
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.match(rollback.stdout, /1\.0\.1 → 1\.0\.0/);
    await waitForVersion(world, 'prod-us', '1.0.0');
    await waitFor('prod-us to run 1.0.0 again', async () => (await configMapMode(world, 'prod-us')) === 'blue', CONVERGE_MS);
    narrate(`one call: ${rollback.stdout.trim()}; prod-us runs 1.0.0 again (mode=blue)`);
  });

  await timed('7. The control plane goes away; agents keep reverting drift and report when it is back', async () => {
    await world.stopControlPlane();
    narrate('control plane stopped');
    await world.kubectl('prod-eu', ['patch', 'configmap', `${APP}-settings`, '-n', APP, '--type=merge', '-p', '{"data":{"mode":"offline-edit"}}']);
    await waitFor('prod-eu to revert drift without the control plane', async () => (await configMapMode(world, 'prod-eu')) === 'blue', CONVERGE_MS);
    narrate('prod-eu reverted mode=offline-edit with the control plane down');
    await sleep(INTERVAL_SECONDS * 1000);
    await world.startControlPlane();
    narrate('control plane back');
    const event = await waitFor(
      'the offline drift to be reported',
      async () =>
        (await world.api('GET', '/v1/events?cluster=prod-eu&type=drift.corrected', admin())).body.items.find((e: any) =>
          JSON.stringify(e.data.fields).includes('offline-edit'),
        ),
      CONVERGE_MS,
    );
    narrate(`reported after the outage: ${event.message}`);
  });

  await timed('8. The audit log holds every state change, in order, with actors', async () => {
    const events = (await world.api('GET', '/v1/events?order=asc&limit=1000', admin())).body.items as any[];
    const times = events.map((e) => e.at);
    assert.deepEqual([...times].sort(), times, 'events are in time order');
    for (const event of events) assert.ok(event.actor, `event ${event.type} has an actor`);
    const story = events
      .filter((e) => /^(release\.|promotion\.|cluster\.(suspended|resumed)$)/.test(e.type))
      .map((e) => `${e.type} ${e.data?.version ?? e.data?.toVersion ?? ''} ${e.region ?? ''} ${e.actor}`.replace(/\s+/g, ' ').trim());
    assert.deepEqual(story, [
      'release.published 1.0.0 ci-bot',
      'promotion.promoted 1.0.0 us sre-alice',
      'promotion.promoted 1.0.0 eu sre-alice',
      'cluster.suspended us sre-alice',
      'release.published 1.0.1 ci-bot',
      'promotion.promoted 1.0.1 us sre-alice',
      'cluster.resumed us sre-alice',
      'release.published 1.1.0 ci-bot',
      'release.blocked 1.1.0 sre-alice',
      'promotion.rollback 1.0.0 us sre-alice',
    ]);
    const types = new Set(events.map((e) => e.type));
    for (const type of ['cluster.registered', 'drift.corrected', 'drift.detected', 'reconcile.ready']) assert.ok(types.has(type), `audit has ${type}`);
    narrate(story.map((line) => `  ${line}`).join('\n'));
  });

  return { seconds };
}
