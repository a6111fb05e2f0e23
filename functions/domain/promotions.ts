// Promotion and rollback: moving a pin is appending the next record of its history.
import type { App, Environment, Gate, PromotionInput, PromotionRecord, Release, RollbackInput, Rollout } from '../../lib/api/schemas.ts';
import { LIMITS } from '../../lib/limits.ts';
import type { Services } from '../context.ts';
import { conflict } from '../errors.ts';
import { ConflictError } from '../storage/index.ts';
import { requireApp, requireRelease } from './apps.ts';
import { collections } from '../storage/keys.ts';
import { refreshDesired } from './desired.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from './paging.ts';
import { requireAppAndEnvironment } from './environments.ts';
import { newEventId } from './events.ts';
import { completeMove, targetName } from './moves.ts';
import { listApprovals } from './approvals.ts';
import { appOnClusters } from './clusters.ts';
import { activeFreeze } from './freeze.ts';
import { evaluateGates } from './gates.ts';
import { getRollout, startRollout } from './rollouts.ts';
import { windowVerdict } from './windows.ts';
import { versionForRegion } from './resolve.ts';

type Move = Omit<PromotionRecord, 'seq' | 'at' | 'fromVersion' | 'gates'>;

/** The request a move answers: who asks, and the Idempotency-Key that makes its retry the same request. */
export interface MoveRequest {
  actor: string;
  idempotencyKey?: string;
}


/**
 * Pins a release to an environment or one of its regions, once its gates pass (or a promoter
 * overrides them with a reason: break-glass). Into an environment with waves, a promotion of the
 * whole environment starts a rollout instead.
 */
export async function promote(
  services: Services,
  request: MoveRequest,
  app: string,
  input: PromotionInput,
): Promise<{ record: PromotionRecord } | { rollout: Rollout }> {
  const { storage } = services;
  const { app: spec, environment } = await requireAppAndEnvironment(services, app, input.environment);
  const region = input.region ?? null;
  const waves = !region && (environment.waves?.length ?? 0) > 0;
  // A keyed request reads the pin's whole history (to find its earlier attempt); otherwise the head is enough.
  const history = waves || !request.idempotencyKey ? null : await storage.promotions.history(app, input.environment, region);
  const replayed = history && (await replay(services, request, history, { kind: 'promote', toVersion: input.version }));
  if (replayed) return { record: replayed };
  const release = await requireRelease(services, app, input.version, true);
  if (release.blocked) throw conflict(`${app}@${input.version} is blocked: ${release.blocked.reason}`);
  if (waves) {
    const latest = await storage.rollouts.latest(app, input.environment);
    if (latest && request.idempotencyKey && latest.idempotencyKey === request.idempotencyKey) return { rollout: await getRollout(services, app, input.environment, latest.seq, { repair: true }) };
    if (latest && latest.version === input.version && ['running', 'paused'].includes(latest.status)) {
      throw conflict(`${app}@${input.version} is already rolling out in ${input.environment} (rollout ${latest.id})`);
    }
  }
  const head = waves ? null : history ? (history.at(-1) ?? null) : await storage.promotions.head(app, input.environment, region);
  if (head?.toVersion === input.version) {
    // Most likely a retry of the promotion that wrote this head: finish what a crash may have left undone.
    await completeMove(services, head);
    throw conflict(`${app} is already pinned to ${input.version} in ${targetName(input.environment, region)} (record ${head.seq})`);
  }
  if (region && !head && (await storage.promotions.pins(app, input.environment)).length >= LIMITS.maxPinsPerEnvironment) {
    throw conflict(`${app} already has ${LIMITS.maxPinsPerEnvironment} pins in ${input.environment}; promote the environment or a region already pinned`);
  }
  const gates = await promotionGates(services, environment, spec, release);
  const failed = gates.filter((gate) => !gate.passed);
  if (failed.length > 0 && !input.override) {
    throw conflict(`gates failed for ${app}@${release.version} into ${input.environment}: ${failed.map((gate) => `${gate.name}: ${gate.detail}`).join('; ')}; a promoter may override them with a reason (override)`);
  }
  const kind = failed.length > 0 ? 'break-glass' : 'promote';
  const recorded: Gate[] = gates.map((gate) => (gate.passed ? gate : { ...gate, overridden: input.override! }));
  if (waves) return { rollout: await startRollout(services, { actor: request.actor, reason: input.reason, kind, idempotencyKey: request.idempotencyKey }, environment, release, recorded) };
  const move: Move = { app, environment: input.environment, region, toVersion: release.version, digest: release.digest, actor: request.actor, reason: input.reason, kind };
  const record = await movePinOnce(services, request, move, head, recorded);
  await refuseIfBlockedMeanwhile(services, record);
  return { record };
}

/** Every gate of entering the environment, with its evidence (see gates.ts). */
export async function promotionGates(services: Services, environment: Environment, spec: App, release: Release): Promise<Gate[]> {
  const now = services.now();
  const app = spec.name;
  const config = environment.gates ?? { upstreamReadyShare: null, soakSeconds: 0, approvals: 0 };
  const upstream =
    environment.upstream && config.upstreamReadyShare !== null
      ? {
          environment: environment.upstream,
          clusters: await appOnClusters(services, environment.upstream, app, spec.clusterSelector),
        }
      : null;
  const approvals = config.approvals > 0 ? await listApprovals(services, app, release.version, environment.name) : [];
  const window = windowVerdict(environment.windows, await activeFreeze(services), now);
  return evaluateGates({ version: release.version, config, upstream, release: { blocked: release.blocked, publishedBy: release.publishedBy }, approvals, window, now });
}

/** Moves a pin back to the version its current one replaced. */
export async function rollback(services: Services, request: MoveRequest, app: string, input: RollbackInput): Promise<PromotionRecord> {
  const { storage } = services;
  const { environment } = await requireAppAndEnvironment(services, app, input.environment);
  const region = input.region ?? null;
  if (!region && environment.waves?.length) {
    // Its waves hold pins of their own: rolling back the environment pin alone would move nothing.
    throw conflict(`${input.environment} rolls out in waves: abort its rollout, promote the version to return to, or roll back a region`);
  }
  const history = await storage.promotions.history(app, input.environment, region);
  const replayed = await replay(services, request, history, { kind: 'rollback' });
  if (replayed) return replayed;
  const head = history.at(-1) ?? null;
  if (head) await completeMove(services, head);
  const target = rollbackTarget(history);
  if (!head || !target) throw conflict('nothing to roll back to: this target has no earlier version');
  const previous = await storage.apps.getRelease(app, target, true);
  if (!previous) throw conflict(`the previous release ${app}@${target} no longer exists`);
  if (previous.blocked) throw conflict(`the previous release ${app}@${previous.version} is blocked: ${previous.blocked.reason}`);
  const move: Move = { app, environment: input.environment, region, toVersion: previous.version, digest: previous.digest, actor: request.actor, reason: input.reason, kind: 'rollback' };
  const record = await movePinOnce(services, request, move, head);
  await refuseIfBlockedMeanwhile(services, record);
  return record;
}

/**
 * A request carrying an Idempotency-Key that already wrote a record of this target gets that
 * record again (after repairing what a crash may have left undone), whatever happened since.
 * The same key on a different request is a conflict.
 */
async function replay(
  services: Services,
  request: MoveRequest,
  history: PromotionRecord[],
  expected: { kind: PromotionRecord['kind']; toVersion?: string },
): Promise<PromotionRecord | null> {
  if (!request.idempotencyKey) return null;
  const earlier = history.find((record) => record.idempotencyKey === request.idempotencyKey);
  if (!earlier) return null;
  const kindOf = (kind: PromotionRecord['kind']) => (kind === 'break-glass' ? 'promote' : kind);
  if (kindOf(earlier.kind) !== expected.kind || (expected.toVersion && earlier.toVersion !== expected.toVersion) || earlier.actor !== request.actor) {
    throw conflict('this Idempotency-Key was already used for another request');
  }
  await completeMove(services, earlier);
  return earlier;
}

/** movePin, where a concurrent duplicate of this request (same Idempotency-Key) that won gives its record. */
async function movePinOnce(services: Services, request: MoveRequest, move: Move, head: PromotionRecord | null, gates?: Gate[]): Promise<PromotionRecord> {
  try {
    return await movePin(services, move, head, request.idempotencyKey, gates);
  } catch (err) {
    // Lost the sequence number: if it was to a duplicate of this request, its record is the answer.
    const expected = { kind: move.kind === 'rollback' ? 'rollback' : 'promote', toVersion: move.kind === 'rollback' ? undefined : move.toVersion } as const;
    const history = request.idempotencyKey ? await services.storage.promotions.history(move.app, move.environment, move.region) : [];
    const winner = await replay(services, request, history, expected);
    if (winner) return winner;
    throw err;
  }
}

/**
 * A block can land between a promotion's check and its record. Resolution skips blocked
 * releases, so clusters never run it; the caller is told the record has no effect.
 */
async function refuseIfBlockedMeanwhile(services: Services, record: PromotionRecord): Promise<void> {
  const release = await services.storage.apps.getRelease(record.app, record.toVersion, true);
  if (release?.blocked) {
    throw conflict(
      `${record.app}@${record.toVersion} was blocked while this move was recorded (record ${record.seq}): it stays in the history, but clusters skip blocked releases`,
    );
  }
}

/**
 * The version a rollback returns to. History is a stack: a promotion pushes its version, a
 * rollback pops; so rolling back twice walks back two releases instead of toggling.
 */
export function rollbackTarget(history: PromotionRecord[]): string | null {
  const stack: string[] = [];
  for (const record of history) {
    if (stack.length === 0 && record.fromVersion) stack.push(record.fromVersion);
    if (record.kind === 'rollback') stack.pop();
    else stack.push(record.toVersion);
  }
  return stack.length >= 2 ? stack[stack.length - 2]! : null;
}

/** The app's promotion records in time order, optionally for one environment or region. */
export async function listPromotions(
  services: Services,
  app: string,
  query: PageRequest & { environment?: string; region?: string },
): Promise<Page<PromotionRecord>> {
  await requireApp(services, app);
  const start = decodeCursor(query.cursor, collections.promotions(app));
  const { items, next } = await services.storage.promotions.list(app, { limit: query.limit, start, environment: query.environment, region: query.region });
  return { items, nextCursor: encodeCursor(next) };
}

/** Appends the next record of a pin's history; the sequence-number condition makes exactly one concurrent writer win. */
async function movePin(services: Services, move: Move, expectedHead: PromotionRecord | null, idempotencyKey?: string, gates?: Gate[]): Promise<PromotionRecord> {
  const { storage } = services;
  // A policy makes the app part of the environment; a manual one is created by the first promotion.
  await storage.environments.createPolicyIfAbsent(move.app, move.environment, null, services.now().toISOString());
  const now = services.now();
  const at = now.toISOString();
  const record: PromotionRecord = {
    ...move,
    seq: (expectedHead?.seq ?? 0) + 1,
    fromVersion: expectedHead?.toVersion ?? (await currentVersion(services, move.app, move.environment, move.region)),
    at,
    gates: gates ?? [{ name: 'release-not-blocked', passed: true, detail: `${move.toVersion} was not blocked at ${at}` }],
    eventId: newEventId(now),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
  try {
    await storage.promotions.append(record);
  } catch (err) {
    if (err instanceof ConflictError) throw conflict(err.message);
    throw err;
  }
  await completeMove(services, record);
  return record;
}

/** What the target ran before its first own record: the environment's version (pin or tracked). */
async function currentVersion(services: Services, app: string, environment: string, region: string | null): Promise<string | null> {
  const entry = await services.storage.desired.get(environment, app, true);
  return (entry && (region ? versionForRegion(entry, region) : entry.version)?.version) ?? null;
}
