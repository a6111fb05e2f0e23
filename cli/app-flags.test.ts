// `flotilla app create|update --depends-on … --drift …` as a separate process against the real
// control plane (embedded default over HTTP).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalControlPlane, type LocalControlPlane } from '../functions/local-server.ts';
import { runFlotilla } from '../test/support/cli.ts';

let plane: LocalControlPlane;
let work: string;
let env: Record<string, string>;
const flotilla = (args: string[]) => runFlotilla(args, env);
const repository = 'registry.example.com/team/x';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flotilla-cli-deps-'));
  plane = await startLocalControlPlane({ dataDir: join(work, 'data') });
  env = { FLOTILLA_URL: plane.url, FLOTILLA_TOKEN: plane.adminToken, FLOTILLA_CONFIG: join(work, 'no-config.json'), DOCKER_CONFIG: join(work, 'docker') };
});

afterAll(async () => {
  await plane?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('flotilla app create|update --depends-on --drift', () => {
  it('sets, keeps and clears dependencies and the drift mode; the API refuses cycles and unknown apps', async () => {
    for (const name of ['crds', 'operator']) expect((await flotilla(['app', 'create', name, '--repository', repository])).code).toBe(0);
    const created = await flotilla(['app', 'create', 'web', '--repository', repository, '--namespace', 'web', '--depends-on', 'crds,operator', '--drift', 'report']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/app web: .* → namespace web, depends on crds, operator, drift reported only/);

    // update keeps what it is not given
    const updated = await flotilla(['app', 'update', 'web', '--depends-on', 'crds', '--json']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ name: 'web', repository, namespace: 'web', dependsOn: ['crds'], drift: 'report' });
    const cleared = await flotilla(['app', 'update', 'web', '--depends-on', '', '--drift', 'correct', '--json']);
    expect(JSON.parse(cleared.stdout)).toMatchObject({ namespace: 'web', dependsOn: [], drift: 'correct' });

    expect((await flotilla(['app', 'update', 'web', '--depends-on', 'operator'])).code).toBe(0);
    const cycle = await flotilla(['app', 'update', 'operator', '--depends-on', 'web,crds']);
    expect(cycle.code).toBe(2);
    expect(cycle.stderr).toMatch(/body\.dependsOn: would make a dependency cycle operator → web → operator/);
    const unknown = await flotilla(['app', 'create', 'api', '--repository', repository, '--depends-on', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/body\.dependsOn: unknown app nope/);
    const badMode = await flotilla(['app', 'update', 'web', '--drift', 'ignore']);
    expect([badMode.code, badMode.stderr.trim()]).toEqual([2, 'flotilla: --drift must be correct or report, not "ignore"']);
    expect((await flotilla(['app', 'update', 'missing', '--drift', 'report'])).code).toBe(4);
  });
});
