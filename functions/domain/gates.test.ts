import { describe, expect, it } from 'vitest';
import { evaluateGates, type Approval, type ClusterStatusView, type GateInput, type GateResult } from './gates.ts';

const now = new Date('2026-11-26T12:00:00.000Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();
const cluster = (name: string, fields: Partial<ClusterStatusView> = {}): ClusterStatusView => ({
  name,
  region: 'eu-1',
  version: '1.2.0',
  phase: 'Ready',
  readySince: minutesAgo(60),
  ...fields,
});
const approval = (actor: string, at = minutesAgo(5)): Approval => ({ actor, reason: 'looks good', at });

/** Everything passes: the cases below change one thing each. */
const base: GateInput = {
  version: '1.2.0',
  config: { upstreamReadyShare: 1, soakSeconds: 600, approvals: 1 },
  upstream: { environment: 'staging', clusters: [cluster('stg-a'), cluster('stg-b')] },
  release: { blocked: null, publishedBy: 'ci' },
  approvals: [approval('alice')],
  window: { open: true, detail: 'open' },
  now,
};
const withUpstream = (...clusters: ClusterStatusView[]): Partial<GateInput> => ({
  upstream: { environment: 'staging', clusters },
});
const withConfig = (config: Partial<GateInput['config']>): Partial<GateInput> => ({ config: { ...base.config, ...config } });

const gate = (gates: GateResult[], name: GateResult['name']) => gates.find((each) => each.name === name)!;

describe('evaluateGates', () => {
  it('returns every gate in order', () => {
    const gates = evaluateGates(base);
    expect(gates.map((each) => each.name)).toEqual(['release-not-blocked', 'upstream-ready', 'window-open', 'approvals']);
    expect(gates.every((gate) => gate.passed)).toBe(true);
  });

  // [case, change to the base input, gate, passed, detail]
  const cases: [string, Partial<GateInput>, GateResult['name'], boolean, string][] = [
    ['release not blocked', {}, 'release-not-blocked', true, 'release 1.2.0 is not blocked'],
    ['blocked release', { release: { blocked: { reason: 'CVE-2026-1', by: 'sec' }, publishedBy: 'ci' } }, 'release-not-blocked', false, 'release 1.2.0 is blocked by sec: CVE-2026-1'],

    ['no upstream environment', { upstream: null }, 'upstream-ready', true, 'not required'],
    ['share null', withConfig({ upstreamReadyShare: null }), 'upstream-ready', true, 'not required'],
    ['all upstream soaked', {}, 'upstream-ready', true, '2 of 2 clusters of staging have run 1.2.0 Ready for 600 s (100%; 100% required)'],
    ['upstream runs the app nowhere', withUpstream(), 'upstream-ready', false, 'no cluster of staging runs the app'],
    [
      'share 0.5 with 1 of 2 soaked',
      { ...withConfig({ upstreamReadyShare: 0.5 }), ...withUpstream(cluster('stg-a'), cluster('stg-b', { phase: 'Progressing', readySince: undefined })) },
      'upstream-ready', true, '1 of 2 clusters of staging have run 1.2.0 Ready for 600 s (50%; 50% required)',
    ],
    [
      'share 1 with 1 of 2 soaked',
      withUpstream(cluster('stg-a'), cluster('stg-b', { phase: 'Failed', readySince: undefined })),
      'upstream-ready', false, '1 of 2 clusters of staging have run 1.2.0 Ready for 600 s (50%; 100% required)',
    ],
    [
      'share 0.7 with 7 of 10 (no rounding error)',
      {
        ...withConfig({ upstreamReadyShare: 0.7 }),
        ...withUpstream(...Array.from({ length: 10 }, (_, index) => cluster(`stg-${index}`, index < 7 ? {} : { version: '1.1.0' }))),
      },
      'upstream-ready', true, '7 of 10 clusters of staging have run 1.2.0 Ready for 600 s (70%; 70% required)',
    ],
    ['soak not yet elapsed', withUpstream(cluster('stg-a'), cluster('stg-b', { readySince: minutesAgo(5) })), 'upstream-ready', false, '1 of 2 clusters of staging have run 1.2.0 Ready for 600 s (50%; 100% required)'],
    ['soak elapsed exactly now', withUpstream(cluster('stg-a', { readySince: minutesAgo(10) })), 'upstream-ready', true, '1 of 1 clusters of staging have run 1.2.0 Ready for 600 s (100%; 100% required)'],
    ['soak 0 counts any Ready', { ...withConfig({ soakSeconds: 0 }), ...withUpstream(cluster('stg-a', { readySince: now.toISOString() })) }, 'upstream-ready', true, '1 of 1 clusters of staging have run 1.2.0 Ready for 0 s (100%; 100% required)'],
    ['Ready at another version does not count', withUpstream(cluster('stg-a', { version: '1.1.0' })), 'upstream-ready', false, '0 of 1 clusters of staging have run 1.2.0 Ready for 600 s (0%; 100% required)'],
    ['Ready without readySince does not count', withUpstream(cluster('stg-a', { readySince: undefined })), 'upstream-ready', false, '0 of 1 clusters of staging have run 1.2.0 Ready for 600 s (0%; 100% required)'],
    ['pending cluster does not count', withUpstream(cluster('stg-a', { version: null, phase: 'Pending', readySince: undefined })), 'upstream-ready', false, '0 of 1 clusters of staging have run 1.2.0 Ready for 600 s (0%; 100% required)'],

    ['window open', {}, 'window-open', true, 'open'],
    ['closed window', { window: { open: false, detail: 'outside every allow window (Europe/Berlin)' } }, 'window-open', false, 'outside every allow window (Europe/Berlin)'],

    ['one approval', {}, 'approvals', true, '1 of 1 required approvals (alice)'],
    ['no approvals needed', { ...withConfig({ approvals: 0 }), approvals: [] }, 'approvals', true, 'not required'],
    ['missing approval', { approvals: [] }, 'approvals', false, '0 of 1 required approvals'],
    ['approval by the publisher refused', { approvals: [approval('ci')] }, 'approvals', false, '0 of 1 required approvals; the approval by the publisher ci does not count'],
    ['publisher plus another', { approvals: [approval('ci'), approval('bob')] }, 'approvals', true, '1 of 1 required approvals (bob); the approval by the publisher ci does not count'],
    ['duplicate approvals counted once', { ...withConfig({ approvals: 2 }), approvals: [approval('alice'), approval('alice')] }, 'approvals', false, '1 of 2 required approvals (alice)'],
    ['two distinct approvers', { ...withConfig({ approvals: 2 }), approvals: [approval('alice'), approval('bob'), approval('alice')] }, 'approvals', true, '2 of 2 required approvals (alice, bob)'],
  ];

  it.each(cases)('%s', (_, change, name, passed, detail) => {
    const gates = evaluateGates({ ...base, ...change });
    expect(gate(gates, name)).toMatchObject({ passed, detail });
    // Every other gate still passes, so one failing gate is exactly what fails the set.
    expect(gates.every((gate) => gate.passed)).toBe(passed);
  });

  it('upstream evidence lists the clusters counted and not, with readySince while soaking', () => {
    const soaking = minutesAgo(5);
    const gates = evaluateGates({
      ...base,
      ...withUpstream(
        cluster('stg-a'),
        cluster('stg-b', { readySince: soaking }),
        cluster('stg-c', { version: '1.1.0', phase: 'Failed', readySince: undefined }),
      ),
    });
    expect(gate(gates, 'upstream-ready').evidence).toEqual({
      environment: 'staging',
      share: 1,
      soakSeconds: 600,
      counted: [{ name: 'stg-a', readySince: minutesAgo(60) }],
      notCounted: [
        { name: 'stg-b', phase: 'Ready', version: '1.2.0', readySince: soaking },
        { name: 'stg-c', phase: 'Failed', version: '1.1.0' },
      ],
    });
  });

  it('approval evidence lists the approvers counted (first approval each) and the publisher approvals', () => {
    const first = approval('alice', minutesAgo(9));
    const own = approval('ci');
    const gates = evaluateGates({ ...base, approvals: [first, own, approval('alice', minutesAgo(1))] });
    expect(gate(gates, 'approvals').evidence).toEqual({ required: 1, counted: [first], byPublisher: [own] });
  });

  it('blocked release evidence names the block', () => {
    const blocked = { reason: 'CVE-2026-1', by: 'sec' };
    const gates = evaluateGates({ ...base, release: { blocked, publishedBy: 'ci' } });
    expect(gate(gates, 'release-not-blocked').evidence).toEqual({ blocked });
  });
});
