import { describe, expect, it } from 'vitest';
import {
  rolloutStep,
  waveMembers,
  wavePlanProblems,
  type RolloutAction,
  type RolloutClusterView,
  type RolloutView,
  type WavePlan,
  type WaveState,
} from './waves.ts';

const VERSION = '1.2.0';
const t0 = Date.parse('2026-11-26T12:00:00.000Z');
/** The instant `minutes` after t0, as stored. */
const at = (minutes: number) => new Date(t0 + minutes * 60_000).toISOString();

const wave = (name: string, fields: Partial<WavePlan>): WavePlan => ({
  name,
  soakSeconds: 600,
  deadlineSeconds: 3600,
  failureThreshold: 0,
  ...fields,
});
const canaryThenRest = [wave('canary', { regions: ['eu-1'] }), wave('rest', { regions: ['us-1', 'ap-1'] })];

/** The fleet before the rollout: everything Ready at the old version. */
const oldFleet: RolloutClusterView[] = [
  { name: 'eu-a', region: 'eu-1', labels: { tier: 'canary' }, version: '1.1.0', phase: 'Ready', readySince: at(-1000) },
  { name: 'us-a', region: 'us-1', labels: {}, version: '1.1.0', phase: 'Ready', readySince: at(-1000) },
  { name: 'us-b', region: 'us-1', labels: {}, version: '1.1.0', phase: 'Ready', readySince: at(-1000) },
  { name: 'ap-a', region: 'ap-1', labels: {}, version: '1.1.0', phase: 'Ready', readySince: at(-1000) },
];
/** The fleet with some clusters changed by name. */
const fleet = (changes: Record<string, Partial<RolloutClusterView>> = {}) =>
  oldFleet.map((cluster) => ({ ...cluster, ...changes[cluster.name] }));
const readyAt = (minutes: number): Partial<RolloutClusterView> => ({ version: VERSION, phase: 'Ready', readySince: at(minutes) });
const at1 = (phase: RolloutClusterView['phase']): Partial<RolloutClusterView> => ({ version: VERSION, phase, readySince: undefined });
const canaryReady = (minutes: number) => ({ 'eu-a': readyAt(minutes) });
const restReady = (minutes: number) => ({ 'us-a': readyAt(minutes), 'us-b': readyAt(minutes), 'ap-a': readyAt(minutes) });

const pending = (name: string): WaveState => ({ name, status: 'pending' });
const moving = (name: string, movedAt: number): WaveState => ({ name, status: 'moving', movedAt: at(movedAt) });
const done = (name: string, movedAt: number, doneAt: number): WaveState => ({
  name,
  status: 'done',
  movedAt: at(movedAt),
  doneAt: at(doneAt),
});
const rollout = (waves: WaveState[], status: RolloutView['status'] = 'running'): RolloutView => ({ version: VERSION, status, waves });

interface StepCase {
  plan?: WavePlan[];
  rollout: RolloutView;
  clusters: RolloutClusterView[];
  now: number;
  windowOpen?: boolean;
  action: RolloutAction;
  next: RolloutView;
}

describe('rolloutStep', () => {
  const cases: [string, StepCase][] = [
    ['wave 1 moves at start (no wave states yet)', {
      rollout: rollout([]), clusters: fleet(), now: 0,
      action: { kind: 'move', wave: 0 }, next: rollout([moving('canary', 0), pending('rest')]),
    }],
    ['wave 1 moves at start (all pending)', {
      rollout: rollout([pending('canary'), pending('rest')]), clusters: fleet(), now: 0,
      action: { kind: 'move', wave: 0 }, next: rollout([moving('canary', 0), pending('rest')]),
    }],
    ['wave 1 not yet on the version: wait', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet(), now: 2,
      action: { kind: 'none' }, next: rollout([moving('canary', 0), pending('rest')]),
    }],
    ['wave 2 waits for wave 1 soak', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet(canaryReady(1)), now: 10,
      action: { kind: 'none' }, next: rollout([moving('canary', 0), pending('rest')]),
    }],
    ['soak elapsed: wave 1 done and wave 2 moves in the same step', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet(canaryReady(1)), now: 11,
      action: { kind: 'move', wave: 1 }, next: rollout([done('canary', 0, 11), moving('rest', 11)]),
    }],
    ['last wave soaked: complete', {
      rollout: rollout([done('canary', 0, 11), moving('rest', 11)]), clusters: fleet({ ...canaryReady(1), ...restReady(12) }), now: 22,
      action: { kind: 'complete' }, next: rollout([done('canary', 0, 11), done('rest', 11, 22)], 'completed'),
    }],
    ['every wave already done: complete', {
      rollout: rollout([done('canary', 0, 11), done('rest', 11, 22)]), clusters: fleet(), now: 30,
      action: { kind: 'complete' }, next: rollout([done('canary', 0, 11), done('rest', 11, 22)], 'completed'),
    }],
    ['a Failed cluster over the threshold halts before the deadline', {
      rollout: rollout([done('canary', 0, 11), moving('rest', 11)]), clusters: fleet({ ...restReady(12), 'us-a': at1('Failed') }), now: 15,
      action: { kind: 'halt', wave: 1, reason: 'wave rest: 1 clusters failed (us-a Failed), more than the 0 tolerated' },
      next: rollout([done('canary', 0, 11), { ...moving('rest', 11), status: 'failed', failedReason: 'wave rest: 1 clusters failed (us-a Failed), more than the 0 tolerated' }], 'halted'),
    }],
    ['Failed at the old version is not this version failing: wait', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet({ 'eu-a': { phase: 'Failed' } }), now: 5,
      action: { kind: 'none' }, next: rollout([moving('canary', 0), pending('rest')]),
    }],
    ['deadline not yet passed with a cluster Progressing: wait', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet({ 'eu-a': at1('Progressing') }), now: 59,
      action: { kind: 'none' }, next: rollout([moving('canary', 0), pending('rest')]),
    }],
    ['deadline passing with a cluster Progressing halts', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet({ 'eu-a': at1('Progressing') }), now: 60,
      action: { kind: 'halt', wave: 0, reason: `wave canary: 1 clusters failed (eu-a Progressing at 1.2.0, deadline ${at(60)}), more than the 0 tolerated` },
      next: rollout([{ ...moving('canary', 0), status: 'failed', failedReason: `wave canary: 1 clusters failed (eu-a Progressing at 1.2.0, deadline ${at(60)}), more than the 0 tolerated` }, pending('rest')], 'halted'),
    }],
    ['deadline passing with a cluster Ready but not soaked halts', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet(canaryReady(55)), now: 60,
      action: { kind: 'halt', wave: 0, reason: `wave canary: 1 clusters failed (eu-a Ready at 1.2.0, deadline ${at(60)}), more than the 0 tolerated` },
      next: rollout([{ ...moving('canary', 0), status: 'failed', failedReason: `wave canary: 1 clusters failed (eu-a Ready at 1.2.0, deadline ${at(60)}), more than the 0 tolerated` }, pending('rest')], 'halted'),
    }],
    ['deadline 0 means none: wait however long', {
      plan: [wave('canary', { regions: ['eu-1'], deadlineSeconds: 0 }), canaryThenRest[1]!],
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet({ 'eu-a': at1('Progressing') }), now: 100_000,
      action: { kind: 'none' }, next: rollout([moving('canary', 0), pending('rest')]),
    }],
    ['threshold 1 tolerates one Failed cluster once the others soaked', {
      plan: [canaryThenRest[0]!, wave('rest', { regions: ['us-1', 'ap-1'], failureThreshold: 1 })],
      rollout: rollout([done('canary', 0, 11), moving('rest', 11)]), clusters: fleet({ ...restReady(12), 'us-a': at1('Failed') }), now: 22,
      action: { kind: 'complete' }, next: rollout([done('canary', 0, 11), done('rest', 11, 22)], 'completed'),
    }],
    ['threshold 1 tolerates one late cluster at the deadline', {
      plan: [canaryThenRest[0]!, wave('rest', { regions: ['us-1', 'ap-1'], failureThreshold: 1 })],
      rollout: rollout([done('canary', 0, 11), moving('rest', 11)]), clusters: fleet({ ...restReady(12), 'us-a': at1('Progressing') }), now: 71,
      action: { kind: 'complete' }, next: rollout([done('canary', 0, 11), done('rest', 11, 71)], 'completed'),
    }],
    ['threshold 1 waits for a Progressing cluster before the deadline', {
      plan: [canaryThenRest[0]!, wave('rest', { regions: ['us-1', 'ap-1'], failureThreshold: 1 })],
      rollout: rollout([done('canary', 0, 11), moving('rest', 11)]), clusters: fleet({ ...restReady(12), 'us-a': at1('Progressing') }), now: 30,
      action: { kind: 'none' }, next: rollout([done('canary', 0, 11), moving('rest', 11)]),
    }],
    ['threshold 1 halts on two failures', {
      plan: [canaryThenRest[0]!, wave('rest', { regions: ['us-1', 'ap-1'], failureThreshold: 1 })],
      rollout: rollout([done('canary', 0, 11), moving('rest', 11)]), clusters: fleet({ ...restReady(12), 'us-a': at1('Failed'), 'ap-a': at1('Failed') }), now: 15,
      action: { kind: 'halt', wave: 1, reason: 'wave rest: 2 clusters failed (us-a Failed; ap-a Failed), more than the 1 tolerated' },
      next: rollout([done('canary', 0, 11), { ...moving('rest', 11), status: 'failed', failedReason: 'wave rest: 2 clusters failed (us-a Failed; ap-a Failed), more than the 1 tolerated' }], 'halted'),
    }],
    ['closed window keeps the first wave pending', {
      rollout: rollout([]), clusters: fleet(), now: 0, windowOpen: false,
      action: { kind: 'none' }, next: rollout([pending('canary'), pending('rest')]),
    }],
    ['closed window: a moving wave still completes, the next stays pending', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet(canaryReady(1)), now: 11, windowOpen: false,
      action: { kind: 'none' }, next: rollout([done('canary', 0, 11), pending('rest')]),
    }],
    ['closed window: the last moving wave still completes the rollout', {
      rollout: rollout([done('canary', 0, 11), moving('rest', 11)]), clusters: fleet({ ...canaryReady(1), ...restReady(12) }), now: 22, windowOpen: false,
      action: { kind: 'complete' }, next: rollout([done('canary', 0, 11), done('rest', 11, 22)], 'completed'),
    }],
    ['closed window: a moving wave still halts', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet({ 'eu-a': at1('Failed') }), now: 5, windowOpen: false,
      action: { kind: 'halt', wave: 0, reason: 'wave canary: 1 clusters failed (eu-a Failed), more than the 0 tolerated' },
      next: rollout([{ ...moving('canary', 0), status: 'failed', failedReason: 'wave canary: 1 clusters failed (eu-a Failed), more than the 0 tolerated' }, pending('rest')], 'halted'),
    }],
    ['resuming a halted rollout moves the failed wave again with a fresh deadline', {
      rollout: rollout([{ ...moving('canary', 0), status: 'failed', failedReason: 'old' }, pending('rest')]), clusters: fleet(), now: 90,
      action: { kind: 'move', wave: 0 }, next: rollout([moving('canary', 90), pending('rest')]),
    }],
    ['selector waves: canary by label, then every other cluster', {
      plan: [wave('canary', { selector: { tier: 'canary' } }), wave('rest', { selector: {} })],
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet(canaryReady(1)), now: 11,
      action: { kind: 'move', wave: 1 }, next: rollout([done('canary', 0, 11), moving('rest', 11)]),
    }],
    ['clusters in no wave do not hold the rollout', {
      plan: [wave('canary', { regions: ['eu-1'] })],
      rollout: rollout([moving('canary', 0)]), clusters: fleet(canaryReady(1)), now: 11,
      action: { kind: 'complete' }, next: rollout([done('canary', 0, 11)], 'completed'),
    }],
    ['an empty wave is done at once and the next wave moves in the same step', {
      plan: [canaryThenRest[0]!, wave('empty', { regions: ['ap-2'] }), canaryThenRest[1]!],
      rollout: rollout([moving('canary', 0), pending('empty'), pending('rest')]), clusters: fleet(canaryReady(1)), now: 11,
      action: { kind: 'move', wave: 2 }, next: rollout([done('canary', 0, 11), done('empty', 11, 11), moving('rest', 11)]),
    }],
    ['an empty wave waits for the window like any other', {
      plan: [wave('empty', { regions: ['ap-2'] }), canaryThenRest[0]!],
      rollout: rollout([]), clusters: fleet(), now: 0, windowOpen: false,
      action: { kind: 'none' }, next: rollout([pending('empty'), pending('canary')]),
    }],
    ['a plan of only empty waves completes at once', {
      plan: [wave('empty', { regions: ['ap-2'] })],
      rollout: rollout([]), clusters: fleet(), now: 0,
      action: { kind: 'complete' }, next: rollout([done('empty', 0, 0)], 'completed'),
    }],
    ['a moving wave whose clusters all left is done', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet().filter((cluster) => cluster.name !== 'eu-a'), now: 5,
      action: { kind: 'move', wave: 1 }, next: rollout([done('canary', 0, 5), moving('rest', 5)]),
    }],
    ['a moving wave without movedAt is repaired to moved now', {
      rollout: rollout([{ name: 'canary', status: 'moving' }, pending('rest')]), clusters: fleet({ 'eu-a': at1('Progressing') }), now: 5,
      action: { kind: 'none' }, next: rollout([moving('canary', 5), pending('rest')]),
    }],
    ['a cluster already soaked at the version before its wave moved counts', {
      rollout: rollout([moving('canary', 0), pending('rest')]), clusters: fleet(canaryReady(-30)), now: 0,
      action: { kind: 'move', wave: 1 }, next: rollout([done('canary', 0, 0), moving('rest', 0)]),
    }],
    ['wave states of waves no longer planned are dropped, new waves start pending', {
      rollout: rollout([moving('canary', 0), { name: 'gone', status: 'done' }]), clusters: fleet(), now: 5,
      action: { kind: 'none' }, next: rollout([moving('canary', 0), pending('rest')]),
    }],
  ];

  it.each(cases)('%s', (_, { plan = canaryThenRest, rollout: current, clusters, now, windowOpen = true, action, next }) => {
    const step = rolloutStep(plan, current, clusters, new Date(at(now)), windowOpen);
    expect(step.action).toEqual(action);
    expect(step.next).toEqual(next);
  });

  const stopped: RolloutView['status'][] = ['paused', 'halted', 'aborted', 'completed', 'rolled-back'];
  it.each(stopped)('a %s rollout does nothing', (status) => {
    const current = rollout([moving('canary', 0), pending('rest')], status);
    const step = rolloutStep(canaryThenRest, current, fleet(canaryReady(1)), new Date(at(30)), true);
    expect(step.action).toEqual({ kind: 'none' });
    expect(step.next).toEqual(current);
  });

  it('does not change its input', () => {
    const current = rollout([moving('canary', 0), pending('rest')]);
    const copy = structuredClone(current);
    rolloutStep(canaryThenRest, current, fleet(canaryReady(1)), new Date(at(11)), true);
    expect(current).toEqual(copy);
  });

  it('reports per-cluster progress in wave order, clusters in no wave last', () => {
    const plan = [wave('canary', { regions: ['eu-1'] }), wave('us', { regions: ['us-1'], soakSeconds: 120, deadlineSeconds: 600 })];
    const clusters = fleet({ 'eu-a': readyAt(1), 'us-a': readyAt(3), 'us-b': at1('Progressing') });
    const { progress } = rolloutStep(plan, rollout([done('canary', 0, 11), moving('us', 11)]), clusters, new Date(at(4)), true);
    expect(progress).toEqual([
      { wave: 'canary', cluster: 'eu-a', phase: 'Ready', version: VERSION, soakedAt: at(11) },
      { wave: 'us', cluster: 'us-a', phase: 'Ready', version: VERSION, soakedAt: at(5) },
      { wave: 'us', cluster: 'us-b', phase: 'Progressing', version: VERSION },
      { wave: null, cluster: 'ap-a', phase: 'Ready', version: '1.1.0' },
    ]);
  });

  /** Drives steps the way the caller would: a move pins the wave, whose clusters turn Ready a minute later. */
  function simulate(plan: WavePlan[], windowAt: (minute: number) => boolean, until: number) {
    let current = rollout([]);
    let clusters = fleet();
    const actions: [number, RolloutAction['kind'], number?][] = [];
    for (let minute = 0; minute <= until && current.status === 'running'; minute++) {
      const step = rolloutStep(plan, current, clusters, new Date(at(minute)), windowAt(minute));
      current = step.next;
      if (step.action.kind === 'none') continue;
      actions.push(step.action.kind === 'move' ? [minute, 'move', step.action.wave] : [minute, step.action.kind]);
      if (step.action.kind === 'move') {
        const members = waveMembers(plan, clusters).get(plan[step.action.wave]!.name)!;
        const names = new Set(members.map((cluster) => cluster.name));
        clusters = clusters.map((cluster) => (names.has(cluster.name) ? { ...cluster, ...readyAt(minute + 1) } : cluster));
      }
    }
    return { actions, current };
  }

  it('runs a whole rollout: each wave moves once the previous one has soaked', () => {
    const { actions, current } = simulate(canaryThenRest, () => true, 60);
    expect(actions).toEqual([[0, 'move', 0], [11, 'move', 1], [22, 'complete']]);
    expect(current.status).toBe('completed');
  });

  it('a freeze expiring mid-rollout (window closed at t1, open at t2) then moves the next wave', () => {
    // Frozen from minute 5 to minute 30: canary soaks meanwhile, rest waits for the thaw.
    const { actions, current } = simulate(canaryThenRest, (minute) => minute < 5 || minute >= 30, 60);
    expect(actions).toEqual([[0, 'move', 0], [30, 'move', 1], [41, 'complete']]);
    expect(current.waves).toEqual([done('canary', 0, 11), done('rest', 30, 41)]);
  });
});

describe('waveMembers', () => {
  it('puts each cluster in the first wave that takes it, the others under null', () => {
    const plan = [
      wave('canary', { selector: { tier: 'canary' } }),
      wave('eu', { regions: ['eu-1'] }),
      wave('us', { regions: ['us-1'] }),
      wave('empty', { regions: ['ap-2'] }),
    ];
    const members = waveMembers(plan, fleet());
    const names = [...members].map(([key, clusters]) => [key, clusters.map((cluster) => cluster.name)]);
    expect(names).toEqual([
      ['canary', ['eu-a']],
      ['eu', []],
      ['us', ['us-a', 'us-b']],
      ['empty', []],
      [null, ['ap-a']],
    ]);
  });

  it('an empty selector takes every cluster not taken before', () => {
    const members = waveMembers([wave('eu', { regions: ['eu-1'] }), wave('rest', { selector: {} })], fleet());
    expect(members.get('rest')!.map((cluster) => cluster.name)).toEqual(['us-a', 'us-b', 'ap-a']);
    expect(members.get(null)).toEqual([]);
  });

  it('a selector needs every label to match', () => {
    const members = waveMembers([wave('c', { selector: { tier: 'canary', zone: 'a' } })], fleet());
    expect(members.get('c')).toEqual([]);
  });
});

describe('wavePlanProblems', () => {
  const known = ['eu-1', 'us-1', 'ap-1'];
  // [case, plan, problems, known regions (default eu-1, us-1, ap-1)]
  const cases: [string, WavePlan[], string[], string[]?][] = [
    ['canary then rest', canaryThenRest, []],
    ['selector waves', [wave('canary', { selector: { tier: 'canary' } }), wave('rest', { selector: {} })], []],
    ['deadline 0 is none', [wave('a', { regions: ['eu-1'], soakSeconds: 600, deadlineSeconds: 0 })], []],
    ['no waves', [], ['waves: at least one wave is required']],
    ['name not a DNS label', [wave('Canary_1', { regions: ['eu-1'] })], ['waves.0.name: must be a lowercase DNS label (a-z, 0-9, -; at most 63)']],
    ['duplicate names', [wave('a', { regions: ['eu-1'] }), wave('a', { regions: ['us-1'] })], ["waves.1.name: 'a' is already the name of waves.0"]],
    ['both regions and selector', [wave('a', { regions: ['eu-1'], selector: {} })], ['waves.0: exactly one of regions and selector is required']],
    ['neither regions nor selector', [wave('a', {})], ['waves.0: exactly one of regions and selector is required']],
    ['empty regions', [wave('a', { regions: [] })], ['waves.0.regions: must not be empty']],
    ['unknown region', [wave('a', { regions: ['eu-1', 'mars-1'] })], ["waves.0.regions.1: unknown region 'mars-1' (known: eu-1, us-1, ap-1)"]],
    ['region in two waves', [wave('a', { regions: ['eu-1'] }), wave('b', { regions: ['us-1', 'eu-1'] })], ["waves.1.regions.1: region 'eu-1' is already in waves.0"]],
    ['region twice in one wave', [wave('a', { regions: ['eu-1', 'eu-1'] })], ["waves.0.regions.1: region 'eu-1' is listed twice"]],
    ['fractional soak', [wave('a', { regions: ['eu-1'], soakSeconds: 1.5 })], ['waves.0.soakSeconds: must be a whole number of seconds >= 0']],
    ['negative deadline', [wave('a', { regions: ['eu-1'], deadlineSeconds: -1 })], ['waves.0.deadlineSeconds: must be a whole number of seconds >= 0']],
    ['deadline equal to soak', [wave('a', { regions: ['eu-1'], soakSeconds: 600, deadlineSeconds: 600 })], ['waves.0.deadlineSeconds: must be greater than soakSeconds (600), or 0 for no deadline']],
    ['negative threshold', [wave('a', { regions: ['eu-1'], failureThreshold: -1 })], ['waves.0.failureThreshold: must be a whole number >= 0']],
    ['fractional threshold', [wave('a', { regions: ['eu-1'], failureThreshold: 0.5 })], ['waves.0.failureThreshold: must be a whole number >= 0']],
    ['no known regions', [wave('a', { regions: ['eu-1'] })], ["waves.0.regions.0: unknown region 'eu-1' (known: none)"], []],
  ];

  it.each(cases)('%s', (_, plan, problems, knownRegions = known) => {
    expect(wavePlanProblems(plan, knownRegions)).toEqual(problems);
  });
});
