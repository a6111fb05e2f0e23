// Kustomize overlays pushed by Flux's own OCI library (fluxhelper, as `flux push artifact` pushes
// them), deployed by the agent's reconciler with the real kustomize to a real cluster; hostile
// kustomizations in the same app fail it with BuildFailed, apply nothing and leave the previous
// version in place.
import { mkdir, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesiredApp } from '../../lib/api/schemas.ts';
import { InventoryStore } from '../../agent/inventory.ts';
import type { KubeObject } from '../../agent/kube/client.ts';
import type { KustomizeOptions } from '../../agent/kustomize.ts';
import { testReconciler } from '../support/agent-apps.ts';
import { connectTestCluster, createNamespace, deleteNamespace, testRegistryHost, uniqueName, type AgentTestCluster } from '../support/cluster.ts';
import { KUSTOMIZE, overlayArtifact } from '../support/kustomize.ts';
import { fluxHelperPath, run, scratchDir, writeTree } from './helpers.ts';

let cluster: AgentTestCluster;
let fluxhelper: string;
let registryHost: string;
let scratch: string;
const agentNamespace = uniqueName('kz-system');
const appNamespace = uniqueName('kz-apps');
const repo = uniqueName('kz');

function reconciler(kustomize: KustomizeOptions = { binary: KUSTOMIZE }) {
  return testReconciler(cluster, agentNamespace, { healthBudgetMs: 1_000, kustomize });
}

/** Pushes `files` with Flux's library, as `flux push artifact` does, and returns the app pinned to its digest. */
async function fluxRelease(app: string, version: string, files: Record<string, string>, path: string): Promise<DesiredApp> {
  const dir = `${scratch}/${app}-${version}`;
  await mkdir(dir, { recursive: true });
  await writeTree(dir, files);
  const output = await run(fluxhelper, ['push', '-source=https://git.example.com/team/app.git', `-revision=${version}@sha1:0123456789abcdef0123456789abcdef01234567`, `${registryHost}/${repo}/${app}:${version}`, dir]);
  const digest = output.trim().split('@')[1]!;
  expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
  return { name: app, version, digest, repository: `${registryHost}/${repo}/${app}`, path, namespace: appNamespace, prune: true, wait: false, timeoutSeconds: 60, recreate: false, suspended: false };
}

async function live(kind: string, name: string, apiVersion = 'v1'): Promise<(KubeObject & Record<string, any>) | null> {
  return (await cluster.client.get({ apiVersion, kind, namespace: appNamespace, name })) as (KubeObject & Record<string, any>) | null;
}

/** Names of the app's ConfigMaps and Deployments in the cluster. */
async function names(): Promise<string[]> {
  const out = await cluster.kubectl(['get', 'configmaps,deployments,services', '-n', appNamespace, '-l', 'env=prod', '-o', 'name']);
  return out.trim().split('\n').filter(Boolean).sort();
}

beforeAll(async () => {
  cluster = await connectTestCluster('dev');
  registryHost = testRegistryHost();
  fluxhelper = await fluxHelperPath();
  scratch = await scratchDir('kustomize');
  await createNamespace(cluster, agentNamespace);
  await createNamespace(cluster, appNamespace);
});

afterAll(async () => {
  await deleteNamespace(cluster, agentNamespace);
  await deleteNamespace(cluster, appNamespace);
  await rm(scratch, { recursive: true, force: true });
  cluster.client.close();
});

describe('kustomize overlays pushed by Flux, deployed by the agent', () => {
  let settingsV2 = '';

  it('deploys the prod overlay as kustomize builds it: base, component, patches, images, hashed generator; a new version rolls the ConfigMap and prunes the old one', async () => {
    const subject = reconciler();
    const v1 = await fluxRelease('web', '1.0.0', overlayArtifact('hello'), 'overlays/prod');
    expect(await subject.reconcileApp(v1, false)).toMatchObject({ phase: 'Ready', reason: 'Applied', counts: { created: 4 } });

    const web = await live('Deployment', 'prod-web', 'apps/v1');
    expect(web?.spec.replicas).toBe(3);
    const container = web?.spec.template.spec.containers[0];
    expect(container.image).toBe('registry.example.com/nginx:1.28');
    expect(web?.metadata.labels).toMatchObject({ app: 'web', env: 'prod' });
    expect(web?.metadata.annotations).toMatchObject({ 'flotilla.test/monitored': 'true' });
    const settingsV1 = container.envFrom[0].configMapRef.name as string;
    expect(settingsV1).toMatch(/^prod-settings-[a-z0-9]{10}$/);
    expect((await live('ConfigMap', settingsV1))?.data).toEqual({ MODE: 'prod', 'greeting.txt': 'hello' });
    expect((await live('Service', 'prod-web'))?.spec.ports[0].port).toBe(8080);
    expect((await live('ConfigMap', 'prod-monitor-rules'))?.data).toEqual({ rule: 'up' });
    expect(await names()).toEqual(['configmap/prod-monitor-rules', `configmap/${settingsV1}`, 'deployment.apps/prod-web', 'service/prod-web']);
    // kustomization.yaml and the patch are build inputs, not objects: nothing named after them.
    expect((await live('ConfigMap', 'settings'))).toBeNull();

    const v2 = await fluxRelease('web', '2.0.0', overlayArtifact('bonjour'), 'overlays/prod');
    expect(await subject.reconcileApp(v2, false)).toMatchObject({ phase: 'Ready', reason: 'Applied', counts: { created: 1, deleted: 1 } });
    settingsV2 = (await live('Deployment', 'prod-web', 'apps/v1'))?.spec.template.spec.containers[0].envFrom[0].configMapRef.name;
    expect(settingsV2).toMatch(/^prod-settings-[a-z0-9]{10}$/);
    expect(settingsV2).not.toBe(settingsV1);
    expect((await live('ConfigMap', settingsV2))?.data).toEqual({ MODE: 'prod', 'greeting.txt': 'bonjour' });
    expect(await live('ConfigMap', settingsV1)).toBeNull();
  });

  const marker = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hostile-marker}\ndata: {applied: "yes"}\n';
  const hostile = (kustomization: string, extra: Record<string, string> = {}) => ({
    ...overlayArtifact('hostile'),
    'overlays/prod/marker.yaml': marker,
    'overlays/prod/kustomization.yaml': `namePrefix: prod-\nlabels: [{pairs: {env: prod}}]\nresources: [../../base, marker.yaml]\n${kustomization}`,
    ...extra,
  });
  const cases: [string, Record<string, string>, RegExp][] = [
    ['a remote base', hostile('bases: [https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.8.2]\n'), /^kustomize: overlays\/prod\/kustomization\.yaml: bases entry "https:\/\/github\.com\/.*" is remote; only files inside the artifact may be used$/],
    ['a ../ escape', hostile('configMapGenerator:\n- name: stolen\n  files: [../../../../../../etc/passwd]\n'), /^kustomize: overlays\/prod\/kustomization\.yaml: configMapGenerator\.files entry "\.\.\/.*\/etc\/passwd" points outside the artifact$/],
    ['an exec plugin', hostile('generators: [gen.yaml]\n', {
      'overlays/prod/gen.yaml': 'apiVersion: example.com/v1\nkind: Sh\nmetadata:\n  name: x\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n',
    }), /^kustomize: overlays\/prod\/kustomization\.yaml: generators entry "gen\.yaml" is a KRM function or exec plugin \(annotation config\.kubernetes\.io\/function\); plugins are not allowed$/],
    ['a huge generator', hostile(`configMapGenerator:\n${Array.from({ length: 8 }, (_, i) => `- name: big-${i}\n  files: [big.txt]\n`).join('')}`, {
      'overlays/prod/big.txt': 'x'.repeat(1024 * 1024),
    }), /^kustomize: the build's output is over 4194304 bytes and was stopped$/],
  ];

  for (const [name, files, message] of cases) {
    it(`refuses ${name}: BuildFailed, nothing applied, the previous version stays`, async () => {
      const subject = reconciler({ binary: KUSTOMIZE, maxOutputBytes: 4 * 1024 * 1024 });
      const before = await live('Deployment', 'prod-web', 'apps/v1');
      const bad = await fluxRelease('web', `3.0.0-${name.replace(/[^a-z]+/g, '-')}`.replace(/-$/, ''), files, 'overlays/prod');
      const report = await subject.reconcileApp(bad, false);
      expect(report).toMatchObject({ phase: 'Failed', reason: 'BuildFailed' });
      expect(report.message).toMatch(message);
      expect(await live('ConfigMap', 'hostile-marker')).toBeNull();
      const after = await live('Deployment', 'prod-web', 'apps/v1');
      // Its spec was not written (status keeps moving as kwok runs the pods).
      expect(after?.metadata.generation).toBe(before?.metadata.generation);
      expect(after?.spec).toEqual(before?.spec);
      expect((await live('ConfigMap', settingsV2))?.data['greeting.txt']).toBe('bonjour');
      expect((await new InventoryStore(cluster.client, agentNamespace).get('web'))?.version).toBe('2.0.0');
    });
  }

  it('an agent without kustomize fails a kustomization app in one sentence and still deploys plain manifests', async () => {
    const subject = reconciler({});
    const kustomized = await fluxRelease('nobin', '1.0.0', { 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nobin}\n' }, '.');
    const report = await subject.reconcileApp(kustomized, false);
    expect(report).toMatchObject({ phase: 'Failed', reason: 'BuildFailed', message: "kustomize: the app's path holds a kustomization but this agent has no kustomize binary; set FLOTILLA_KUSTOMIZE or use the agent image, which ships it" });
    expect(await live('ConfigMap', 'nobin')).toBeNull();
    const plain = await fluxRelease('plain', '1.0.0', { 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n' }, '.');
    expect(await subject.reconcileApp(plain, false)).toMatchObject({ phase: 'Ready' });
    expect(await live('ConfigMap', 'plain')).not.toBeNull();
  });
});
