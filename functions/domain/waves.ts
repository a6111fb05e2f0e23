// The rollout state machine: a version moves through an environment wave by wave, each wave
// soaking before the next starts. Pure: one call computes one step from the state, the clusters'
// reported status and the injected time; the caller performs the action and stores `next`.
import type { Phase } from '../../lib/api/schemas.ts';
import { selectorMatches } from './resolve.ts';
import { isSoaked, soakedAt } from './soak.ts';

export interface WavePlan {
  name: string;
  /** Regions of the wave, or a label selector over clusters (exactly one of the two). */
  regions?: string[];
  selector?: Record<string, string>;
  soakSeconds: number;
  deadlineSeconds: number;
  /** Failed (or late) clusters tolerated before the wave fails. */
  failureThreshold: number;
}
export type WaveStatus = 'pending' | 'moving' | 'done' | 'failed';
export interface WaveState {
  name: string;
  status: WaveStatus;
  movedAt?: string;
  doneAt?: string;
  failedReason?: string;
}
export interface RolloutClusterView {
  name: string;
  region: string;
  labels: Record<string, string>;
  version: string | null;
  phase: Phase | 'Pending';
  readySince?: string;
}
export type RolloutStatus = 'running' | 'paused' | 'halted' | 'aborted' | 'completed' | 'rolled-back';
export interface RolloutView {
  version: string;
  status: RolloutStatus;
  waves: WaveState[];
}
export type RolloutAction =
  | { kind: 'none' }
  | { kind: 'move'; wave: number } // pin the wave's clusters to the version (set its status moving, movedAt now)
  | { kind: 'complete' } // every wave done
  | { kind: 'halt'; wave: number; reason: string }; // a wave failed: too many Failed clusters, or not all Ready by movedAt + deadline
export interface ClusterProgress {
  wave: string | null;
  cluster: string;
  phase: string;
  version: string | null;
  soakedAt?: string;
}
export interface RolloutStep {
  action: RolloutAction;
  next: RolloutView;
  progress: ClusterProgress[];
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function inWave(wave: WavePlan, cluster: RolloutClusterView): boolean {
  return (
    (wave.regions?.includes(cluster.region) ?? false) ||
    (wave.selector !== undefined && selectorMatches(wave.selector, cluster.labels))
  );
}

/**
 * Which wave each cluster belongs to: the first wave whose regions include its region or whose selector matches its labels; clusters in no wave are returned under null.
 * Every wave name and null are keys, in plan order then null, even when empty. An empty selector
 * matches every cluster: as the last wave it means "all the rest".
 */
export function waveMembers(plan: WavePlan[], clusters: RolloutClusterView[]): Map<string | null, RolloutClusterView[]> {
  const members = new Map<string | null, RolloutClusterView[]>(plan.map((wave) => [wave.name, []]));
  members.set(null, []);
  for (const cluster of clusters) {
    const wave = plan.find((each) => inWave(each, cluster));
    members.get(wave?.name ?? null)!.push(cluster);
  }
  return members;
}

/** Problems of a wave plan against the environment's known regions, each "waves.<i>.<field>: <message>" or "waves: ...": names unique DNS labels, exactly one of regions/selector, unknown region, a region in two waves (overlap), empty regions, soak/deadline whole seconds >= 0 with deadline > soak (deadline 0 = none), failureThreshold >= 0. */
export function wavePlanProblems(plan: WavePlan[], knownRegions: string[]): string[] {
  const problems: string[] = plan.length === 0 ? ['waves: at least one wave is required'] : [];
  const waveNamed = new Map<string, number>();
  const waveOfRegion = new Map<string, number>();
  plan.forEach((wave, index) => {
    const path = `waves.${index}`;
    const sameName = waveNamed.get(wave.name);
    if (!DNS_LABEL.test(wave.name)) problems.push(`${path}.name: must be a lowercase DNS label (a-z, 0-9, -; at most 63)`);
    else if (sameName !== undefined) problems.push(`${path}.name: '${wave.name}' is already the name of waves.${sameName}`);
    else waveNamed.set(wave.name, index);

    if ((wave.regions === undefined) === (wave.selector === undefined)) {
      problems.push(`${path}: exactly one of regions and selector is required`);
    }
    if (wave.regions?.length === 0) problems.push(`${path}.regions: must not be empty`);
    wave.regions?.forEach((region, position) => {
      const regionPath = `${path}.regions.${position}`;
      const earlier = waveOfRegion.get(region);
      if (!knownRegions.includes(region)) {
        problems.push(`${regionPath}: unknown region '${region}' (known: ${knownRegions.join(', ') || 'none'})`);
      } else if (earlier === index) {
        problems.push(`${regionPath}: region '${region}' is listed twice`);
      } else if (earlier !== undefined) {
        problems.push(`${regionPath}: region '${region}' is already in waves.${earlier}`);
      } else {
        waveOfRegion.set(region, index);
      }
    });
    problems.push(...timingProblems(wave, path));
  });
  return problems;
}

const isWholeAtLeastZero = (value: number) => Number.isInteger(value) && value >= 0;

function timingProblems(wave: WavePlan, path: string): string[] {
  const problems: string[] = [];
  const soakValid = isWholeAtLeastZero(wave.soakSeconds);
  if (!soakValid) problems.push(`${path}.soakSeconds: must be a whole number of seconds >= 0`);
  if (!isWholeAtLeastZero(wave.deadlineSeconds)) {
    problems.push(`${path}.deadlineSeconds: must be a whole number of seconds >= 0`);
  } else if (soakValid && wave.deadlineSeconds !== 0 && wave.deadlineSeconds <= wave.soakSeconds) {
    // A deadline no later than the soak could never be met: every wave would fail.
    problems.push(`${path}.deadlineSeconds: must be greater than soakSeconds (${wave.soakSeconds}), or 0 for no deadline`);
  }
  if (!isWholeAtLeastZero(wave.failureThreshold)) problems.push(`${path}.failureThreshold: must be a whole number >= 0`);
  return problems;
}

type WaveJudgement = { kind: 'done' } | { kind: 'waiting' } | { kind: 'failed'; reason: string };

/**
 * A moving wave's verdict. Each member is soaked (runs the version Ready since >= soak ago),
 * failed (Failed at the version; or, once the deadline has passed, anything not soaked), or
 * waiting. More failed than the threshold fails the wave at once, even before the deadline;
 * otherwise the wave is done when none is waiting: tolerated Failed clusters do not hold it back,
 * and after the deadline nothing is waiting any more.
 */
function judgeWave(wave: WavePlan, movedAt: Date, members: RolloutClusterView[], version: string, now: Date): WaveJudgement {
  const deadline = new Date(movedAt.getTime() + wave.deadlineSeconds * 1000);
  const deadlinePassed = wave.deadlineSeconds > 0 && now.getTime() >= deadline.getTime();
  const failed: string[] = [];
  let waiting = 0;
  for (const cluster of members) {
    if (isSoaked(cluster, version, wave.soakSeconds, now)) continue;
    if (cluster.version === version && cluster.phase === 'Failed') failed.push(`${cluster.name} Failed`);
    else if (deadlinePassed) failed.push(`${cluster.name} ${cluster.phase} at ${cluster.version ?? 'no version'}`);
    else waiting++;
  }
  if (failed.length > wave.failureThreshold) {
    const late = deadlinePassed ? `, deadline ${deadline.toISOString()}` : '';
    return {
      kind: 'failed',
      reason:
        `wave ${wave.name}: ${failed.length} clusters failed (${failed.join('; ')}${late}), ` +
        `more than the ${wave.failureThreshold} tolerated`,
    };
  }
  return waiting === 0 ? { kind: 'done' } : { kind: 'waiting' };
}

/** One state per plan wave, in plan order, matched by name: new waves start pending, removed ones drop. */
function alignedStates(plan: WavePlan[], states: WaveState[]): WaveState[] {
  return plan.map((wave) => states.find((state) => state.name === wave.name) ?? { name: wave.name, status: 'pending' });
}

function progressOf(plan: WavePlan[], members: Map<string | null, RolloutClusterView[]>, version: string): ClusterProgress[] {
  return [...members].flatMap(([waveName, clusters]) => {
    const wave = plan.find((each) => each.name === waveName);
    return clusters.map((cluster) => {
      const soaked = wave ? soakedAt(cluster, version, wave.soakSeconds) : null;
      return {
        wave: waveName,
        cluster: cluster.name,
        phase: cluster.phase,
        version: cluster.version,
        ...(soaked ? { soakedAt: soaked.toISOString() } : {}),
      };
    });
  });
}

/**
 * One step, computed from the current state, the clusters (with status) and the time; pure.
 * Only status 'running' advances; any other status returns action none and the rollout unchanged.
 *
 * Waves are visited in plan order; done waves are skipped. At most one action is returned, but
 * bookkeeping carries on in the same step:
 * - a moving wave is judged (see judgeWave): waiting → none; failed → halt (wave failed,
 *   rollout halted); done → the wave is marked done and the NEXT wave is considered in the SAME
 *   step, so "wave 1 soaked" and "wave 2 moves" happen together.
 * - a pending wave moves (status moving, movedAt now) only while the window is open; a closed
 *   window returns none and leaves it pending. A moving wave is judged whatever the window: it
 *   is already deployed, the window only gates starting new waves.
 * - a pending wave with no member clusters is done at once (movedAt = doneAt = now) without a move
 *   action, still only while the window is open, and the step continues with the next wave.
 * - a failed wave under a running rollout (an operator resumed a halted one) moves again with a
 *   fresh movedAt, hence a fresh deadline.
 * - when no wave is left, complete (rollout completed).
 * Soak counts from readySince, so a cluster already Ready at the version before its wave moved
 * counts as soaked from then.
 */
export function rolloutStep(
  plan: WavePlan[],
  rollout: RolloutView,
  clusters: RolloutClusterView[],
  now: Date,
  windowOpen: boolean,
): RolloutStep {
  const members = waveMembers(plan, clusters);
  const progress = progressOf(plan, members, rollout.version);
  if (rollout.status !== 'running') return { action: { kind: 'none' }, next: rollout, progress };

  const at = now.toISOString();
  const waves = alignedStates(plan, rollout.waves);
  const step = (action: RolloutAction, status: RolloutStatus = 'running'): RolloutStep => ({
    action,
    next: { ...rollout, status, waves },
    progress,
  });

  for (const [index, wave] of plan.entries()) {
    const state = waves[index]!;
    const waveMembersNow = members.get(wave.name) ?? [];
    if (state.status === 'done') continue;
    if (state.status === 'pending' || state.status === 'failed') {
      if (!windowOpen) return step({ kind: 'none' });
      if (waveMembersNow.length === 0) {
        waves[index] = { name: wave.name, status: 'done', movedAt: at, doneAt: at };
        continue;
      }
      waves[index] = { name: wave.name, status: 'moving', movedAt: at };
      return step({ kind: 'move', wave: index });
    }
    // Moving. A state without a (valid) movedAt is repaired to "moved now" rather than failing it.
    const recorded = Date.parse(state.movedAt ?? '');
    if (Number.isNaN(recorded)) waves[index] = { ...state, movedAt: at };
    const movedAt = Number.isNaN(recorded) ? now : new Date(recorded);
    const judgement = judgeWave(wave, movedAt, waveMembersNow, rollout.version, now);
    if (judgement.kind === 'waiting') return step({ kind: 'none' });
    if (judgement.kind === 'failed') {
      waves[index] = { ...waves[index]!, status: 'failed', failedReason: judgement.reason };
      return step({ kind: 'halt', wave: index, reason: judgement.reason }, 'halted');
    }
    waves[index] = { ...waves[index]!, status: 'done', doneAt: at };
  }
  return step({ kind: 'complete' }, 'completed');
}
