// Kustomize builds with the real kustomize binary (test/env/setup), and the walls around it:
// the scan that refuses hostile kustomizations before anything runs, the load restrictor, the
// timeout that kills the process group, the output cap and the empty environment.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KUSTOMIZE, overlayArtifact } from '../test/support/kustomize.ts';
import { BuildError, buildApp, type ArtifactFiles } from './artifact.ts';
import type { KubeObject } from './kube/client.ts';
import { KUSTOMIZE_DEFAULTS, KustomizeError, kustomizeBuild, kustomizeBinary } from './kustomize.ts';

const files = (entries: Record<string, string | Buffer>): ArtifactFiles => new Map(Object.entries(entries).map(([name, content]) => [name, Buffer.from(content)]));

const find = (objects: KubeObject[], kind: string, prefix: string) => objects.find((object) => object.kind === kind && object.metadata?.name?.startsWith(prefix));

let scratch: string;
/** A fake kustomize that records its arguments, environment and that it ran, then runs `body`. */
async function fakeKustomize(body: string): Promise<{ binary: string; ranMarker: string }> {
  const dir = await mkdtemp(join(scratch, 'fake-'));
  const binary = join(dir, 'kustomize');
  const ranMarker = join(dir, 'ran');
  await writeFile(binary, `#!/bin/sh\necho "$@" > ${ranMarker}.args\n/usr/bin/env > ${ranMarker}.env\ntouch ${ranMarker}\n${body}\n`);
  await chmod(binary, 0o755);
  return { binary, ranMarker };
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'flotilla-kustomize-test-'));
  if (!existsSync(KUSTOMIZE)) throw new Error(`no kustomize at ${KUSTOMIZE}: run FLOTILLA_ENV_ONLY=kustomize npm run env:setup`);
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('kustomize builds', () => {
  it('builds an overlay as kustomize does: base, component, patches, images, merged configMapGenerator with its hash suffix', async () => {
    const objects = await buildApp(files(overlayArtifact()), 'overlays/prod', { binary: KUSTOMIZE });
    expect(objects.map((object) => `${object.kind}/${object.metadata?.name}`).sort()).toEqual([
      'ConfigMap/prod-monitor-rules',
      expect.stringMatching(/^ConfigMap\/prod-settings-[a-z0-9]{10}$/),
      'Deployment/prod-web',
      'Service/prod-web',
    ]);
    const settings = find(objects, 'ConfigMap', 'prod-settings-')!;
    expect(settings['data']).toEqual({ MODE: 'prod', 'greeting.txt': 'hello' });
    const web = find(objects, 'Deployment', 'prod-web') as KubeObject & { spec: Record<string, any> };
    expect(web.spec['replicas']).toBe(3);
    const container = web.spec['template'].spec.containers[0];
    expect(container.image).toBe('registry.example.com/nginx:1.28');
    // The generated name's hash suffix is carried into the reference.
    expect(container.envFrom[0].configMapRef.name).toBe(settings.metadata?.name);
    expect(web.metadata?.labels).toMatchObject({ env: 'prod', app: 'web' });
    expect(web.metadata?.annotations).toEqual({ 'flotilla.test/monitored': 'true' });
    expect((find(objects, 'Service', 'prod-web') as KubeObject & { spec: any }).spec.ports[0].port).toBe(8080);

    // Another file content, another hash: a new ConfigMap name, as with Flux.
    const changed = await buildApp(files(overlayArtifact('bonjour')), 'overlays/prod', { binary: KUSTOMIZE });
    expect(find(changed, 'ConfigMap', 'prod-settings-')!.metadata?.name).not.toBe(settings.metadata?.name);
  });

  it('finds kustomization.yml and Kustomization too, and the artifact root as "."', async () => {
    for (const name of ['kustomization.yml', 'Kustomization']) {
      const objects = await buildApp(files({ [name]: 'resources: [cm.yaml]\nnameSuffix: -x\n', 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n' }), '.', { binary: KUSTOMIZE });
      expect(objects.map((object) => object.metadata?.name)).toEqual(['a-x']);
    }
  });

  it('runs the build once per artifact and path, however often the app is reconciled', async () => {
    const fake = await fakeKustomize(`echo "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n$$}"`);
    const artifact = files({ 'kustomization.yaml': 'resources: []\n' });
    const first = await buildApp(artifact, '.', { binary: fake.binary });
    await rm(fake.ranMarker);
    const second = await buildApp(artifact, './', { binary: fake.binary });
    expect(existsSync(fake.ranMarker)).toBe(false);
    expect(second).toEqual(first);
    expect(second[0]).not.toBe(first[0]); // fresh objects each time
  });

  it("enforces kustomize's root-only load restrictor: an overlay may use its bases, not read their files", async () => {
    const error = await buildApp(
      files({
        'base/kustomization.yaml': 'resources: [cm.yaml]\n',
        'base/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n',
        'base/patch.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: y}\n',
        'prod/kustomization.yaml': 'resources: [../base]\npatches: [{path: ../base/patch.yaml}]\n',
      }),
      'prod',
      { binary: KUSTOMIZE },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as Error).message).toMatch(/^kustomize: trouble configuring builtin PatchTransformer .*security; file 'base\/patch\.yaml' is not in or below 'prod'$/);
    expect((error as Error).message).not.toContain(tmpdir());
  });

  it('fails with kustomize\'s own error in one line, without the temporary directory in it', async () => {
    const error = await buildApp(files({ 'app/kustomization.yaml': 'resources: [a.yaml]\n', 'app/a.yaml': 'kind: [\n' }), 'app', { binary: KUSTOMIZE }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as Error).message).toMatch(/^kustomize: accumulating resources: .*a\.yaml/);
    expect((error as Error).message).not.toMatch(/\n|flotilla-kustomize-/);
  });
});

describe('hostile kustomizations are refused before kustomize runs', () => {
  const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n';
  const cases: [string, Record<string, string>, RegExp][] = [
    ['a remote https base', { 'kustomization.yaml': 'resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.8.2\n' }, /resources entry "https:\/\/github\.com.*" is remote/],
    ['a git ssh base', { 'kustomization.yaml': 'resources: [cm.yaml, "git@github.com:org/repo.git//deploy"]\n', 'cm.yaml': cm }, /"git@github\.com:org\/repo\.git\/\/deploy" is remote/],
    ['a bare github.com base', { 'kustomization.yaml': 'bases: [github.com/org/repo/deploy?ref=main]\n' }, /bases entry .* is remote/],
    ['a remote component', { 'kustomization.yaml': 'components: [https://example.com/component]\n' }, /components entry .* is remote/],
    ['a patch fetched over HTTP', { 'kustomization.yaml': 'resources: [cm.yaml]\npatches: [{path: "https://example.com/patch.yaml"}]\n', 'cm.yaml': cm }, /patches\.path entry .* is remote/],
    ['a base climbing out of the artifact', { 'app/kustomization.yaml': 'resources: [../../../etc/kubernetes]\n' }, /app\/kustomization\.yaml: resources entry "\.\.\/\.\.\/\.\.\/etc\/kubernetes" points outside the artifact/],
    ['a generator reading a host file', { 'kustomization.yaml': 'configMapGenerator:\n- name: x\n  files: [passwd=../../../../etc/passwd]\n' }, /configMapGenerator\.files entry "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" points outside the artifact/],
    ['an absolute path', { 'kustomization.yaml': 'secretGenerator:\n- name: x\n  envs: [/var/run/secrets/kubernetes.io/serviceaccount/token]\n' }, /is not a relative path inside the artifact/],
    ['a resource not in the artifact (kustomize would try it as a remote)', { 'kustomization.yaml': 'resources: [somewhere/else]\n' }, /resources entry "somewhere\/else" is not in the artifact/],
    ['an exec plugin', {
      'kustomization.yaml': 'generators: [gen.yaml]\n',
      'gen.yaml': 'apiVersion: example.com/v1\nkind: Run\nmetadata:\n  name: x\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n',
    }, /generators entry "gen\.yaml" is a KRM function or exec plugin \(annotation config\.kubernetes\.io\/function\)/],
    ['a KRM function in a container', {
      'kustomization.yaml': 'transformers: [fn.yaml]\n',
      'fn.yaml': 'apiVersion: example.com/v1\nkind: Fn\nmetadata:\n  name: x\n  annotations:\n    config.kubernetes.io/function: "container: {image: evil/fn}"\n',
    }, /transformers entry "fn\.yaml" is a KRM function/],
    ['a legacy external plugin', { 'kustomization.yaml': 'transformers: [p.yaml]\n', 'p.yaml': 'apiVersion: someteam.example.com/v1\nkind: SedTransformer\nmetadata: {name: x}\n' }, /external plugin someteam\.example\.com\/v1\/SedTransformer/],
    ['an inline exec plugin', { 'kustomization.yaml': 'validators:\n- |\n  apiVersion: v1\n  kind: X\n  metadata:\n    name: x\n    annotations:\n      config.kubernetes.io/function: "exec: {path: ./x}"\n' }, /an inline validators entry is a KRM function/],
    ['a Helm chart', { 'kustomization.yaml': 'helmCharts:\n- name: evil\n  repo: https://charts.example.com\n' }, /helmCharts is not supported/],
    ['a Helm chart as a builtin generator config', { 'kustomization.yaml': 'generators: [helm.yaml]\n', 'helm.yaml': 'apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata: {name: x}\nname: evil\nrepo: https://charts.example.com\n' }, /generators entry "helm\.yaml" is a HelmChartInflationGenerator/],
    ['a hostile base behind a good overlay', {
      'prod/kustomization.yaml': 'resources: [../base]\n',
      'base/kustomization.yaml': 'resources: [cm.yaml, "https://example.com/x.yaml"]\n',
      'base/cm.yaml': cm,
    }, /base\/kustomization\.yaml: resources entry "https:\/\/example\.com\/x\.yaml" is remote/],
  ];

  for (const [name, artifact, message] of cases) {
    it(`refuses ${name}`, async () => {
      const fake = await fakeKustomize(`echo "${cm}"`);
      const path = Object.keys(artifact).some((file) => file.startsWith('prod/')) ? 'prod' : Object.keys(artifact)[0]!.startsWith('app/') ? 'app' : '.';
      const error = await buildApp(files(artifact), path, { binary: fake.binary }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BuildError);
      expect((error as Error).message).toMatch(/^kustomize: /);
      expect((error as Error).message).toMatch(message);
      expect(existsSync(fake.ranMarker)).toBe(false);
    });
  }

  it('gives the build only the directories of the kustomizations it reaches, and refuses them over 32 MiB', async () => {
    const fake = await fakeKustomize(`ls -R . > ${scratch}/listing\necho "${cm}"`);
    await buildApp(files({
      'apps/prod/kustomization.yaml': 'resources: [../../base]\n',
      'base/kustomization.yaml': 'resources: [cm.yaml]\n',
      'base/cm.yaml': cm,
      'other/secret.yaml': cm,
    }), 'apps/prod', { binary: fake.binary });
    const listing = await readFile(join(scratch, 'listing'), 'utf8');
    expect(listing).toMatch(/cm\.yaml/);
    expect(listing).not.toMatch(/other|secret/);
    const big = 'x'.repeat(17 * 1024 * 1024);
    const error = await buildApp(files({ 'kustomization.yaml': 'resources: []\n', 'a.bin': big, 'b.bin': big }), '.', { binary: fake.binary }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(`kustomize: the kustomizations' directories hold ${2 * big.length + 14} bytes, over the ${32 * 1024 * 1024} a build may use`);
  });

  it('allows builtin plugin configs and kustomization directories as generators and transformers', async () => {
    const objects = await buildApp(
      files({
        'kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [labels.yaml]\n',
        'cm.yaml': cm,
        'labels.yaml': 'apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {team: a}\nfieldSpecs: [{path: metadata/labels, create: true}]\n',
      }),
      '.',
      { binary: KUSTOMIZE },
    );
    expect(objects[0]?.metadata?.labels).toEqual({ team: 'a' });
  });
});

describe('the build process', () => {
  it('runs with the root-only load restrictor, no plugin flags and an empty environment', async () => {
    process.env['FLOTILLA_TEST_SECRET'] = 'do-not-leak';
    try {
      const fake = await fakeKustomize(`echo "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}"`);
      await buildApp(files({ 'deploy/kustomization.yaml': 'resources: []\n' }), 'deploy', { binary: fake.binary });
      expect((await readFile(`${fake.ranMarker}.args`, 'utf8')).trim()).toBe('build --load-restrictor LoadRestrictionsRootOnly ./deploy');
      const env = Object.fromEntries((await readFile(`${fake.ranMarker}.env`, 'utf8')).trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
      for (const name of ['FLOTILLA_TEST_SECRET', 'KUBECONFIG', 'DOCKER_CONFIG', 'AWS_ACCESS_KEY_ID', 'SSH_AUTH_SOCK', 'PATH']) expect(env[name]).toBeUndefined();
      expect(env['HOME']).toMatch(/flotilla-kustomize-.*\/home$/);
      expect(env['HTTPS_PROXY']).toBe('http://127.0.0.1:9');
    } finally {
      delete process.env['FLOTILLA_TEST_SECRET'];
    }
  });

  it('stops a build that runs too long, killing its whole process group', async () => {
    const fake = await fakeKustomize(`sleep 60 & echo $! > ${scratch}/child.pid\nsleep 60`);
    const started = Date.now();
    const error = await kustomizeBuild(files({ 'kustomization.yaml': 'resources: []\n' }), '', { binary: fake.binary, timeoutMs: 500 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(KustomizeError);
    expect((error as Error).message).toBe('kustomize: the build took longer than 1s and was stopped');
    const child = Number(await readFile(join(scratch, 'child.pid'), 'utf8'));
    // Gone, or a zombie waiting for init to reap it: either way no longer running.
    const state = () => readFile(`/proc/${child}/stat`, 'utf8').then((stat) => stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3), () => 'gone');
    await expect.poll(state).toMatch(/^(gone|Z)$/);
  });

  it('stops a generator whose output is over the cap (the real kustomize)', async () => {
    // 1 MiB from the artifact, 8 MiB once generated eight times; the cap here is 4 MiB (16 MiB by default).
    expect(KUSTOMIZE_DEFAULTS.maxOutputBytes).toBe(16 * 1024 * 1024);
    const megabyte = 'x'.repeat(1024 * 1024);
    const generators = Array.from({ length: 8 }, (_, i) => `- name: big-${i}\n  files: [data.txt]\n`).join('');
    const maxOutputBytes = 4 * 1024 * 1024;
    const error = await buildApp(files({ 'kustomization.yaml': `configMapGenerator:\n${generators}`, 'data.txt': megabyte }), '.', { binary: KUSTOMIZE, maxOutputBytes }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as Error).message).toBe(`kustomize: the build's output is over ${maxOutputBytes} bytes and was stopped`);
    // Under the cap the same generators build.
    const small = await buildApp(files({ 'kustomization.yaml': `configMapGenerator:\n${generators}`, 'data.txt': 'small' }), '.', { binary: KUSTOMIZE, maxOutputBytes });
    expect(small).toHaveLength(8);
  });

  it('without a binary, a kustomization is one sentence and plain manifests still build', async () => {
    const error = await buildApp(files({ 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': 'kind: ConfigMap\n' }), '.', {}).catch((e: unknown) => e);
    expect((error as Error).message).toBe("kustomize: the app's path holds a kustomization but this agent has no kustomize binary; set FLOTILLA_KUSTOMIZE or use the agent image, which ships it");
    const missing = await buildApp(files({ 'kustomization.yaml': 'resources: []\n' }), '.', { binary: join(scratch, 'nowhere', 'kustomize') }).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/^kustomize: the kustomize binary .*nowhere\/kustomize cannot be run \(ENOENT\)/);
    expect(await buildApp(files({ 'app/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n', 'other/kustomization.yaml': 'x: y\n' }), 'app', {})).toHaveLength(1);
  });

  it('finds the binary from FLOTILLA_KUSTOMIZE, else next to the agent script', async () => {
    expect(kustomizeBinary('/opt/kustomize', '/app/flotilla-agent.mjs')).toBe('/opt/kustomize');
    const dir = await mkdtemp(join(scratch, 'beside-'));
    expect(kustomizeBinary(undefined, join(dir, 'flotilla-agent.mjs'))).toBeUndefined();
    await writeFile(join(dir, 'kustomize'), '');
    expect(kustomizeBinary(undefined, join(dir, 'flotilla-agent.mjs'))).toBe(join(dir, 'kustomize'));
  });
});
