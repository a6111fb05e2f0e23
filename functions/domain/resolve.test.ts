import { describe, expect, it } from 'vitest';
import type { App, PromotionRecord, Release } from '../../lib/api/schemas.ts';
import { newClusterRecord, type ClusterRecord, type PolicyRecord } from '../model.ts';
import { buildDesiredEntry, resolveDesiredState } from './resolve.ts';

const digest = (version: string) => `sha256:${Buffer.from(version).toString('hex').padEnd(64, '0')}`;
const at = '2026-11-26T00:00:00.000Z';
const now = new Date('2026-11-26T12:00:00.000Z');

const app = (selector?: Record<string, string>): App => ({
  name: 'web',
  repository: 'registry.example.com/web',
  path: '.',
  namespace: 'web',
  prune: true,
  wait: true,
  timeoutSeconds: 300,
  recreate: false,
  clusterSelector: selector,
  createdAt: at,
  updatedAt: at,
});
const release = (version: string, blocked = false): Release => ({
  app: 'web',
  version,
  digest: digest(version),
  publishedBy: 'ci',
  publishedAt: at,
  blocked: blocked ? { reason: 'bad', by: 'sre', at } : null,
});
const pin = (version: string, region: string | null, seq = 1): PromotionRecord => ({
  app: 'web',
  environment: 'prod',
  region,
  seq,
  fromVersion: null,
  toVersion: version,
  digest: digest(version),
  actor: 'sre',
  reason: 'r',
  kind: 'promote',
  at,
  gates: [],
});
const policy = (track: string | null): PolicyRecord => ({ app: 'web', environment: 'prod', track, updatedAt: at });
const cluster = (region: string, labels: Record<string, string> = {}, suspended = false): ClusterRecord => ({
  ...newClusterRecord(`c-${region}`, { environment: 'prod', region, labels }, at),
  suspended: suspended ? { by: 'sre', reason: 'incident', at, until: null } : null,
});

const releases = [release('1.0.0'), release('1.0.1'), release('1.1.0', true), release('2.0.0')];

describe('desired-state resolution', () => {
  it.each([
    { name: 'tracked range picks the highest release in range', policy: policy('^1.0.0'), pins: [], region: 'us', expected: '1.0.1' },
    { name: 'blocked releases are skipped by tracking', policy: policy('>=1.1.0 <2'), pins: [], region: 'us', expected: null },
    { name: 'environment pin beats the tracked range', policy: policy('^1.0.0'), pins: [pin('1.0.0', null)], region: 'us', expected: '1.0.0' },
    { name: 'region pin beats the environment pin', policy: policy(null), pins: [pin('1.0.0', null), pin('2.0.0', 'eu')], region: 'eu', expected: '2.0.0' },
    { name: 'another region falls back to the environment pin', policy: policy(null), pins: [pin('1.0.0', null), pin('2.0.0', 'eu')], region: 'us', expected: '1.0.0' },
    { name: 'a region pin alone leaves other regions without a version', policy: policy(null), pins: [pin('2.0.0', 'eu')], region: 'us', expected: null },
    { name: 'manual policy without pins runs nothing', policy: policy(null), pins: [], region: 'us', expected: null },
    { name: 'pins without a policy still resolve', policy: null, pins: [pin('1.0.1', null)], region: 'us', expected: '1.0.1' },
    { name: 'a pin to a blocked release falls back to the newest good version of its history', policy: policy(null), pins: [pin('1.0.0', null, 1), pin('1.0.1', null, 2), pin('1.1.0', null, 3)], region: 'us', expected: '1.0.1' },
    { name: 'a blocked region pin falls back to the region history, then the environment', policy: policy(null), pins: [pin('2.0.0', null, 1), pin('1.1.0', 'us', 1)], region: 'us', expected: '2.0.0' },
    { name: 'a blocked environment pin with nothing good behind it leaves tracking in charge', policy: policy('^1.0.0'), pins: [pin('1.1.0', null, 1)], region: 'us', expected: '1.0.1' },
  ])('$name', ({ policy: p, pins, region, expected }) => {
    const entry = buildDesiredEntry(app(), p, releases, pins);
    const state = resolveDesiredState(cluster(region), entry ? [entry] : [], now, 30);
    expect(state.apps[0]?.version ?? null).toBe(expected);
    if (expected) expect(state.apps[0]?.digest).toBe(digest(expected));
  });

  it('applies cluster selectors', () => {
    const entry = buildDesiredEntry(app({ tier: 'edge' }), policy('^1.0.0'), releases, [])!;
    expect(resolveDesiredState(cluster('us', { tier: 'edge' }), [entry], now, 30).apps).toHaveLength(1);
    expect(resolveDesiredState(cluster('us', { tier: 'core' }), [entry], now, 30).apps).toHaveLength(0);
    expect(resolveDesiredState(cluster('us'), [entry], now, 30).apps).toHaveLength(0);
  });

  it('is not deployed where it has neither policy nor pins', () => {
    expect(buildDesiredEntry(app(), null, releases, [])).toBeNull();
  });

  it('marks suspension, honouring its end time', () => {
    const entry = buildDesiredEntry(app(), policy('^1.0.0'), releases, [])!;
    expect(resolveDesiredState(cluster('us', {}, true), [entry], now, 30).suspended).toBe(true);
    const expired = cluster('us');
    expired.suspendedApps.web = { by: 'sre', reason: 'x', at, until: '2026-11-26T11:00:00.000Z' };
    expect(resolveDesiredState(expired, [entry], now, 30).apps[0]?.suspended).toBe(false);
    expired.suspendedApps.web.until = '2026-11-26T13:00:00.000Z';
    expect(resolveDesiredState(expired, [entry], now, 30).apps[0]?.suspended).toBe(true);
  });
});
