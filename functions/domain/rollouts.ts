// Rollouts: promoting into an environment with waves moves one wave after another, each once the
// previous one has been Ready for its soak. The state machine is pure (waves.ts); this module reads
// what it needs, applies a step with a conditional write on the rollout's revision, and then makes
// the pins say what the state says. That last part is idempotent, so a crash between the state
// write and the pins is repaired by the next advance (an agent report, a read, the clock).
import { Name, type Environment, type Event, type Gate, type PromotionRecord, type Release, type Rollout } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { conflict, notFound } from '../errors.ts';
import { ConflictError, type RolloutRecord } from '../storage/index.ts';
import { collections } from '../storage/keys.ts';
import { refreshDesired } from './desired.ts';
import { appOnClusters, statusView } from './clusters.ts';
import { newEventId } from './events.ts';
import { activeFreeze } from './freeze.ts';
import { completeMove, completeMoves } from './moves.ts';
import { decodeCursor, encodeCursor, type PageRequest } from './paging.ts';
import { selectorMatches } from './resolve.ts';
import { rolloutStep, waveMembers, type ClusterProgress, type WavePlan } from './waves.ts';
import { windowVerdict } from './windows.ts';

/** One entry of a rollout's log: the audit events of its transitions, written from the record. */
type LogEntry = { type: string; at: string; eventId: string; message: string; data?: Record<string, unknown> };
type Stored = RolloutRecord & { log?: LogEntry[]; kind?: PromotionRecord['kind'] };

const TERMINAL: Rollout['status'][] = ['aborted', 'completed', 'rolled-back', 'superseded', 'recalled', 'halted'];
/** Steps one advance may take (each wave moves or completes at most once). */
const MAX_STEPS = 50;

const planOf = (rollout: Stored): WavePlan[] =>
  rollout.waves.map(({ name, regions, selector, soakSeconds, deadlineSeconds, failureThreshold }) => ({
    name,
    ...(regions ? { regions } : {}),
    ...(selector ? { selector } : {}),
    soakSeconds,
    deadlineSeconds,
    failureThreshold,
  }));

/** Starts a rollout of a release into an environment with waves; the first wave moves at once. */
export async function startRollout(
  services: Services,
  request: { actor: string; reason: string; kind: PromotionRecord['kind']; idempotencyKey?: string },
  environment: Environment,
  release: Release,
  gates: Gate[],
): Promise<Rollout> {
  const { storage } = services;
  // A policy makes the app part of the environment (recalls and blocks find it through it); as with
  // a promotion, a manual one is created by the first rollout.
  await storage.environments.createPolicyIfAbsent(release.app, environment.name, null, services.now().toISOString());
  // A new promotion replaces the rollout in progress; its waves keep what they moved until this one moves them.
  const latest = await stopLatest(services, release.app, environment.name, 'superseded', `superseded by a rollout of ${release.version}`);
  const entry = await storage.desired.get(environment.name, release.app, true);
  const now = services.now();
  const at = now.toISOString();
  const seq = (latest?.seq ?? 0) + 1;
  const id = `${environment.name}-${seq}`;
  const rollout: Stored = {
    id,
    seq,
    rev: 0,
    app: release.app,
    environment: environment.name,
    version: release.version,
    digest: release.digest,
    fromVersion: entry?.version?.version ?? null,
    actor: request.actor,
    reason: request.reason,
    status: 'running',
    autoRollback: environment.autoRollback,
    waves: (environment.waves ?? []).map((wave) => ({ ...wave, status: 'pending' as const })),
    gates,
    kind: request.kind,
    ...(request.idempotencyKey ? { idempotencyKey: request.idempotencyKey } : {}),
    createdAt: at,
    updatedAt: at,
    eventId: newEventId(now),
    log: [],
  };
  rollout.log = [logEntry(rollout, 'rollout.started', now, `${request.actor} started rollout ${id} of ${release.app}@${release.version} in ${environment.name}: ${request.reason}`)];
  if (!(await storage.rollouts.create(rollout))) throw conflict('another rollout of this app and environment started first; retry with fresh state');
  await writeLog(services, rollout, rollout.log);
  return view(services, await advance(services, rollout, { repair: true }));
}

function logEntry(rollout: Stored, type: string, now: Date, message: string, data?: Record<string, unknown>): LogEntry {
  return { type, at: now.toISOString(), eventId: newEventId(now), message, ...(data ? { data } : {}) };
}

/** Entries a rollout's log keeps (each transition one; reasons are at most 1,000 characters). */
const MAX_LOG_ENTRIES = 100;

/**
 * The rollout's events from its log: the entries given (default: the last one, which is the one a
 * crash right after a transition can have left unwritten); writing one that is there already
 * changes nothing.
 */
async function writeLog(services: Services, rollout: Stored, entries?: LogEntry[]): Promise<void> {
  const log = rollout.log ?? [];
  const events: Event[] = (entries ?? log.slice(-1)).map((entry) => ({
    id: entry.eventId,
    at: entry.at,
    type: entry.type,
    actor: rollout.actor,
    app: rollout.app,
    environment: rollout.environment,
    message: entry.message,
    data: { rollout: rollout.id, version: rollout.version, ...entry.data },
  }));
  await services.storage.events.putMany(events);
}

/**
 * Advances the rollout as far as it goes now, writing each step conditionally on the revision read
 * (a concurrent advancer that wrote first makes this one re-read), then brings the pins in line.
 */
export async function advance(services: Services, start: Stored, { repair = false }: { repair?: boolean } = {}): Promise<Stored> {
  const { storage } = services;
  let rollout = start;
  // What a step is computed from is read once: the steps of one advance only write pins, which
  // change neither the clusters' reports nor the window.
  const inputs = rollout.status === 'running' ? await stepInputs(services, rollout) : null;
  if (inputs) lastEvaluation.set(rollout.id, { at: Date.now(), clusters: inputs.clusters.length });
  for (let step = 0; inputs && step < MAX_STEPS; step++) {
    if (rollout.status !== 'running') break;
    const { now, clusters, window } = inputs;
    const { action, next } = rolloutStep(planOf(rollout), { version: rollout.version, status: rollout.status, waves: rollout.waves }, clusters, now, window.open);
    if (action.kind === 'none') break;
    const waves = rollout.waves.map((wave, i) => ({ ...wave, ...next.waves[i] }));
    const log = [...(rollout.log ?? [])];
    let status: Rollout['status'] = next.status as Rollout['status'];
    let statusReason = rollout.statusReason;
    if (action.kind === 'move') {
      log.push(logEntry(rollout, 'rollout.wave-moved', now, `rollout ${rollout.id}: wave ${waves[action.wave]!.name} moves ${rollout.app} to ${rollout.version}`, { wave: waves[action.wave]!.name }));
    } else if (action.kind === 'complete') {
      log.push(logEntry(rollout, 'rollout.completed', now, `rollout ${rollout.id} of ${rollout.app}@${rollout.version} completed in ${rollout.environment}`));
    } else {
      // Rolling back needs a version to go back to: the first rollout of an app into an environment halts.
      const back = rollout.autoRollback && rollout.fromVersion !== null;
      statusReason = back ? action.reason : `${action.reason}${rollout.autoRollback ? ' (nothing to roll back to)' : ''}`;
      status = back ? 'rolled-back' : 'halted';
      log.push(logEntry(rollout, 'rollout.halted', now, `rollout ${rollout.id} halted at wave ${waves[action.wave]!.name}: ${action.reason}`, { wave: waves[action.wave]!.name }));
      if (back) {
        log.push(logEntry(rollout, 'rollout.rolled-back', now, `rollout ${rollout.id}: the waves moved go back to ${rollout.fromVersion ?? 'nothing'}`));
      }
    }
    const added = log.slice((rollout.log ?? []).length);
    const updated: Stored = { ...rollout, waves, status, ...(statusReason ? { statusReason } : {}), updatedAt: now.toISOString(), log: log.slice(-MAX_LOG_ENTRIES) };
    if (!(await storage.rollouts.replace(updated, rollout.rev))) {
      const fresh = (await storage.rollouts.get(rollout.app, rollout.environment, rollout.seq)) as Stored | null;
      if (!fresh) break;
      rollout = fresh;
      continue;
    }
    rollout = { ...updated, rev: rollout.rev + 1 };
    await writeLog(services, rollout, added);
    // Align from a fresh read: an abort or recall may have landed right after this step.
    rollout = ((await storage.rollouts.get(rollout.app, rollout.environment, rollout.seq)) as Stored | null) ?? rollout;
    await alignPins(services, rollout, true);
  }
  if (repair) await writeLog(services, rollout);
  await alignPins(services, rollout, repair);
  return rollout;
}

/** The clusters (with their reports), the time and the window a rollout step needs; null when the app or environment is gone. */
async function stepInputs(services: Services, rollout: Stored) {
  const [environment, app] = await Promise.all([services.storage.environments.get(rollout.environment, true), services.storage.apps.get(rollout.app, true)]);
  if (!environment || !app) return null;
  const now = services.now();
  const clusters = await appOnClusters(services, rollout.environment, rollout.app, app.clusterSelector);
  // A rollout started by break-glass through a closed window is not held by it either.
  const overridden = rollout.gates.some((gate) => gate.name === 'window-open' && gate.overridden);
  const window = overridden ? { open: true } : windowVerdict(environment.windows, await activeFreeze(services), now);
  return { now, clusters, window };
}

/**
 * Makes the pins say what the rollout's state says: each moved wave pinned to the version (a
 * region pin per region, a group pin for a selector wave), the environment pinned once complete,
 * and the moved waves back at the previous version once rolled back or aborted. A pin moved since
 * by someone else is left alone. Idempotent: this is how a crash between the state and the pins
 * is repaired. With `repair` (after a transition, on reads and retries) the records already
 * written are completed again too (desired state, event), in case a crash came between.
 */
async function alignPins(services: Services, rollout: Stored, repair: boolean): Promise<void> {
  if (rollout.status === 'superseded' || rollout.status === 'recalled') return;
  const back = rollout.status === 'rolled-back' || rollout.status === 'aborted';
  const targets: { region: string | null; group?: string; selector?: Record<string, string>; waveIndex?: number; since?: string }[] = [];
  for (const [waveIndex, wave] of rollout.waves.entries()) {
    if (wave.status === 'pending') continue;
    if (wave.selector) targets.push({ region: null, group: wave.name, selector: wave.selector, waveIndex, since: wave.movedAt });
    else for (const region of wave.regions ?? []) targets.push({ region, since: wave.movedAt });
  }
  if (rollout.status === 'completed') targets.push({ region: null, since: rollout.updatedAt });
  const heads = await Promise.all(targets.map((target) => services.storage.promotions.head(rollout.app, rollout.environment, target.region, target.group)));
  // Records this rollout wrote: a crash may have come between one and its desired state or event.
  if (repair) await completeMoves(services, heads.filter((head): head is PromotionRecord => head?.rollout === rollout.id));
  let moved = false;
  for (const [i, target] of targets.entries()) {
    const head = heads[i]!;
    const ours = head?.rollout === rollout.id;
    if (back) {
      if (!ours || head!.kind === 'rollback') continue;
      // Back to what this pin held before the rollout moved it, or the newest good version before that.
      const previous = await previousGoodVersion(services, rollout, target, head!);
      if (!previous) continue;
      moved = (await appendForRollout(services, rollout, target, head, previous, 'rollback')) || moved;
    } else {
      if (ours) continue;
      // Someone moved this pin after the wave did: theirs stands.
      if (head && target.since && head.at > target.since) continue;
      moved = (await appendForRollout(services, rollout, target, head, rollout.version, 'promote')) || moved;
    }
  }
  if (moved) await refreshDesired(services.storage, rollout.app, [rollout.environment]);
}

/** The newest version of the pin's history before the rollout's record whose release is not blocked. */
async function previousGoodVersion(services: Services, rollout: Stored, target: { region: string | null; group?: string }, head: PromotionRecord): Promise<string | null> {
  const history = await services.storage.promotions.history(rollout.app, rollout.environment, target.region, target.group);
  const releases = await services.storage.apps.listReleases(rollout.app, true);
  const good = new Set(releases.filter((release) => !release.blocked).map((release) => release.version));
  const candidates = [...history.filter((record) => record.seq < head.seq).map((record) => record.toVersion).reverse(), head.fromVersion, rollout.fromVersion];
  return candidates.find((version): version is string => !!version && version !== rollout.version && good.has(version)) ?? null;
}

async function appendForRollout(
  services: Services,
  rollout: Stored,
  target: { region: string | null; group?: string; selector?: Record<string, string>; waveIndex?: number },
  head: PromotionRecord | null,
  version: string,
  kind: 'promote' | 'rollback',
): Promise<boolean> {
  const release = await services.storage.apps.getRelease(rollout.app, version, true);
  if (!release) return false;
  const now = services.now();
  const where = target.group ? `wave ${target.group}` : (target.region ?? 'the environment');
  const record: PromotionRecord = {
    app: rollout.app,
    environment: rollout.environment,
    region: target.region,
    ...(target.group ? { group: target.group, selector: target.selector, waveIndex: target.waveIndex } : {}),
    seq: (head?.seq ?? 0) + 1,
    fromVersion: head?.toVersion ?? rollout.fromVersion,
    toVersion: release.version,
    digest: release.digest,
    actor: rollout.actor,
    reason: `${kind === 'rollback' ? 'rolled back by' : 'moved by'} rollout ${rollout.id} (${where}): ${rollout.statusReason ?? rollout.reason}`,
    kind: kind === 'promote' && rollout.kind === 'break-glass' ? 'break-glass' : kind,
    at: now.toISOString(),
    gates: rollout.gates,
    rollout: rollout.id,
    eventId: newEventId(now),
  };
  try {
    await services.storage.promotions.append(record);
  } catch (err) {
    if (err instanceof ConflictError) return false; // a concurrent advancer wrote it, or someone moved the pin
    throw err;
  }
  await completeMove(services, record);
  return true;
}

/** Pause, resume or abort (which rolls the moved waves back). */
export async function setRolloutStatus(
  services: Services,
  actor: string,
  target: { app: string; environment: string; seq: number },
  action: 'pause' | 'resume' | 'abort',
  reason: string,
): Promise<Rollout> {
  const { storage } = services;
  for (let attempt = 0; attempt < 5; attempt++) {
    const rollout = (await storage.rollouts.get(target.app, target.environment, target.seq)) as Stored | null;
    if (!rollout) throw notFound(`rollout ${target.environment}-${target.seq} of ${target.app}`);
    const allowed = { pause: ['running'], resume: ['paused'], abort: ['running', 'paused', 'halted'] }[action];
    if (!allowed.includes(rollout.status)) throw conflict(`rollout ${rollout.id} is ${rollout.status}; it cannot ${action}`);
    const status = ({ pause: 'paused', resume: 'running', abort: 'aborted' } as const)[action];
    if (await transition(services, rollout, status, `${actor} ${action === 'abort' ? 'aborted' : `${action}d`} it: ${reason}`, actor)) {
      const fresh = (await storage.rollouts.get(target.app, target.environment, target.seq)) as Stored;
      return view(services, await advance(services, fresh, { repair: true }));
    }
  }
  throw conflict('the rollout kept changing; retry');
}

/**
 * Stops the latest rollout of (app, environment) if it is still going (and `only` accepts it),
 * re-reading until the conditional write lands: an advance racing this one must not keep it moving.
 * Returns the latest rollout as it ends up.
 */
async function stopLatest(
  services: Services,
  app: string,
  environment: string,
  status: 'superseded' | 'recalled',
  reason: string,
  only: (rollout: Stored) => boolean = () => true,
): Promise<Stored | null> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const latest = (await services.storage.rollouts.latest(app, environment)) as Stored | null;
    if (!latest || TERMINAL.includes(latest.status) || !only(latest)) return latest;
    if (await transition(services, latest, status, reason)) return latest;
  }
  throw conflict(`the rollout of ${app} in ${environment} kept changing; retry`);
}

async function transition(services: Services, rollout: Stored, status: Rollout['status'], statusReason: string, actor?: string): Promise<boolean> {
  const now = services.now();
  const type = `rollout.${status === 'running' ? 'resumed' : status}`;
  const log = [...(rollout.log ?? []), logEntry(rollout, type, now, `rollout ${rollout.id}: ${statusReason}`, actor ? { by: actor } : undefined)].slice(-MAX_LOG_ENTRIES);
  const updated: Stored = { ...rollout, status, statusReason, updatedAt: now.toISOString(), log };
  if (!(await services.storage.rollouts.replace(updated, rollout.rev))) return false;
  const stored = { ...updated, rev: rollout.rev + 1 };
  await writeLog(services, stored);
  await alignPins(services, stored, true);
  return true;
}

/**
 * The rollout with each cluster's progress, advanced first (progress is computed when read). A
 * plain read writes only when the rollout moves on; `repair` (a retried promotion) also completes
 * the records it wrote, in case a crash came between.
 */
export async function getRollout(services: Services, app: string, environment: string, seq: number, { repair = false } = {}): Promise<Rollout> {
  const rollout = (await services.storage.rollouts.get(app, environment, seq)) as Stored | null;
  if (!rollout) throw notFound(`rollout ${environment}-${seq} of ${app}`);
  return view(services, await advance(services, rollout, { repair }));
}

/** The app's rollouts in one environment (or every environment it has a policy in), newest first. */
export async function listRollouts(services: Services, app: string, environment?: string): Promise<Rollout[]> {
  if (!(await services.storage.apps.get(app))) throw notFound(`app ${app}`);
  if (environment && !(await services.storage.environments.get(environment))) throw notFound(`environment ${environment}`);
  const environments = environment ? [environment] : (await services.storage.environments.listPolicies(app)).map((policy) => policy.environment);
  const lists = await Promise.all(environments.map((env) => services.storage.rollouts.list(app, env)));
  return lists
    .flat()
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    .map((rollout) => publicView(rollout as Stored));
}

/** A rollout id, `<environment>-<n>`, as its parts; null when it is not one (the API's and the dashboard's paths alike). */
export function parseRolloutId(id: string): { environment: string; seq: number } | null {
  const match = /^(.{1,63})-(\d{1,10})$/.exec(id);
  return match && Name.safeParse(match[1]).success ? { environment: match[1]!, seq: Number(match[2]) } : null;
}

/**
 * One page of a rollout's clusters with their wave, phase and version, read for that page alone
 * (a page of the environment's clusters, their status items in one batch): the dashboard's view at
 * fleet size, where getRollout reads every cluster of the environment. It does not advance the rollout.
 */
export async function rolloutProgressPage(
  services: Services,
  app: string,
  environment: string,
  seq: number,
  page: PageRequest,
): Promise<{ rollout: Rollout; items: ClusterProgress[]; nextCursor: string | null }> {
  const { storage } = services;
  const rollout = (await storage.rollouts.get(app, environment, seq)) as Stored | null;
  if (!rollout) throw notFound(`rollout ${environment}-${seq} of ${app}`);
  const [spec, clusters] = await Promise.all([storage.apps.get(app), storage.clusters.listPage({ limit: page.limit, start: decodeCursor(page.cursor, collections.clusters), environment })]);
  const running = clusters.items.filter((cluster) => selectorMatches(spec?.clusterSelector, cluster.labels));
  const statuses = await storage.clusters.appStatusesOf(running.map((cluster) => cluster.name), app);
  const members = waveMembers(planOf(rollout), running.map((cluster) => statusView(cluster, statuses.get(cluster.name))));
  const items = [...members].flatMap(([wave, views]) => views.map((view) => ({ wave, cluster: view.name, phase: view.phase, version: view.version })));
  return { rollout: publicView(rollout), items, nextCursor: encodeCursor(clusters.next) };
}

async function view(services: Services, rollout: Stored): Promise<Rollout> {
  const app = await services.storage.apps.get(rollout.app);
  const clusters = await appOnClusters(services, rollout.environment, rollout.app, app?.clusterSelector);
  const { progress } = rolloutStep(planOf(rollout), { version: rollout.version, status: 'paused', waves: rollout.waves }, clusters, services.now(), false);
  return { ...publicView(rollout), progress };
}

function publicView(rollout: Stored): Rollout {
  const { seq: _seq, rev: _rev, eventId: _eventId, log: _log, kind: _kind, ...rest } = rollout;
  return rest;
}

/** The clock: advances every active rollout (deadlines pass with no report to notice them). */
export async function tickRollouts(services: Services): Promise<number> {
  const active = (await services.storage.rollouts.active()) as Stored[];
  await advanceEach(services, active);
  return active.length;
}

/**
 * When this process last evaluated each rollout, and over how many clusters: an evaluation reads
 * every cluster of the environment, so after reports a large one is evaluated at most once per
 * REPORT_EVALUATION_MS per process (the clock's runs are not held back). Bounded by the active rollouts.
 */
const lastEvaluation = new Map<string, { at: number; clusters: number }>();
const REPORT_EVALUATION_MS = 5_000;
const SMALL_ROLLOUT_CLUSTERS = 100;

function evaluatedRecently(id: string): boolean {
  const last = lastEvaluation.get(id);
  return !!last && last.clusters > SMALL_ROLLOUT_CLUSTERS && Date.now() - last.at < REPORT_EVALUATION_MS;
}

/** After a report: advance the active rollouts of the cluster's environment for the apps it reported. */
export async function advanceAfterReport(services: Services, environment: string, apps: string[]): Promise<void> {
  const active = (await services.storage.rollouts.active()) as Stored[];
  if (lastEvaluation.size > 10_000) lastEvaluation.clear();
  await advanceEach(services, active.filter((candidate) => candidate.environment === environment && apps.includes(candidate.app) && !evaluatedRecently(candidate.id)));
}

/**
 * Advances each rollout from a fresh read. One that fails (storage busy, say) is logged and left
 * to the next report or clock run: it never fails the report that triggered it, nor the others.
 */
async function advanceEach(services: Services, rollouts: Stored[]): Promise<void> {
  for (const rollout of rollouts) {
    try {
      const fresh = (await services.storage.rollouts.get(rollout.app, rollout.environment, rollout.seq)) as Stored | null;
      if (fresh) await advance(services, fresh);
    } catch (err) {
      console.error(JSON.stringify({ level: 'error', msg: 'advancing a rollout failed', rollout: rollout.id, app: rollout.app, error: String(err) }));
    }
  }
}

/** A recall takes the release out of its rollouts: the latest of each environment, if it holds it, stops as recalled. */
export async function recallRollouts(services: Services, app: string, version: string, environments: string[], reason: string, actor: string): Promise<void> {
  for (const environment of environments) {
    await stopLatest(services, app, environment, 'recalled', `recalled by ${actor}: ${reason}`, (rollout) => rollout.version === version);
  }
}

