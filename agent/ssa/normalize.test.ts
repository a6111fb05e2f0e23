import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../kube/client.ts';
import { diffValues, driftedFields, normalizeForDiff } from './normalize.ts';

const configMap = (data: Record<string, string>, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'settings', namespace: 'default', resourceVersion: '1', uid: 'u', ...extra },
  data,
});

describe('normalizeForDiff', () => {
  it('ignores server-managed metadata and status', () => {
    const live = { ...configMap({ a: '1' }, { resourceVersion: '7', managedFields: [{}], generation: 3 }), status: { x: 1 } };
    const dryRun = configMap({ a: '1' }, { resourceVersion: '8', creationTimestamp: 'now' });
    expect(normalizeForDiff(live)).toEqual(normalizeForDiff(dryRun));
  });

  it('compares finalizers and owner references, which an artifact can set', () => {
    const live = configMap({ a: '1' });
    const withFinalizer = configMap({ a: '1' }, { finalizers: ['example.com/keep'] } as Partial<KubeObject['metadata']>);
    expect(driftedFields(live, withFinalizer).map((field) => field.path)).toEqual(['/metadata/finalizers']);
  });
});

describe('diffValues', () => {
  it('reports leaf paths with before and after values', () => {
    expect(diffValues({ spec: { replicas: 1, a: { 'b/c': 'x' } } }, { spec: { replicas: 3, a: { 'b/c': 'y' } } })).toEqual([
      { path: '/spec/a/b~1c', before: 'x', after: 'y' },
      { path: '/spec/replicas', before: 1, after: 3 },
    ]);
  });

  it('reports an array whose length changed as a whole, and added or removed keys as null on one side', () => {
    expect(diffValues({ list: [1], gone: 'x' }, { list: [1, 2], added: true })).toEqual([
      { path: '/added', before: null, after: true },
      { path: '/gone', before: 'x', after: null },
      { path: '/list', before: [1], after: [1, 2] },
    ]);
  });
});

describe('driftedFields', () => {
  it('masks Secret values, never their paths', () => {
    const secret = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data });
    expect(driftedFields(secret({ password: 'aGFja2Vk' }), secret({ password: 'c2VjcmV0', token: 'dA==' }))).toEqual([
      { path: '/data/password', before: '***', after: '***' },
      { path: '/data/token', before: null, after: '***' },
    ]);
  });

  it('leaves ConfigMap values readable', () => {
    expect(driftedFields(configMap({ a: 'edited' }), configMap({ a: 'original' }))).toEqual([
      { path: '/data/a', before: 'edited', after: 'original' },
    ]);
  });
});
