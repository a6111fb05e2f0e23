// Promotion and rollback: moving a pin is appending the next record of its history.
import type { PromotionInput, PromotionRecord, RollbackInput } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { conflict } from '../errors.ts';
import { ConflictError } from '../storage/index.ts';
import { requireApp, requireRelease } from './apps.ts';
import { refreshDesired } from './desired.ts';
import { requireAppAndEnvironment } from './environments.ts';
import { recordEvent } from './events.ts';
import { versionForRegion } from './resolve.ts';

type Move = Omit<PromotionRecord, 'seq' | 'at' | 'fromVersion' | 'gates'>;

const targetName = (environment: string, region: string | null | undefined) => `${environment}${region ? `/${region}` : ''}`;

/** Pins a release to an environment or one of its regions. */
export async function promote(services: Services, actor: string, app: string, input: PromotionInput): Promise<PromotionRecord> {
  const { storage } = services;
  await requireAppAndEnvironment(services, app, input.environment);
  const release = await requireRelease(services, app, input.version, true);
  if (release.blocked) throw conflict(`${app}@${input.version} is blocked: ${release.blocked.reason}`);
  const region = input.region ?? null;
  const head = await storage.promotions.head(app, input.environment, region);
  if (head?.toVersion === input.version) {
    throw conflict(`${app} is already pinned to ${input.version} in ${targetName(input.environment, region)}`);
  }
  const move: Move = { app, environment: input.environment, region, toVersion: release.version, digest: release.digest, actor, reason: input.reason, kind: 'promote' };
  return movePin(services, move, head);
}

/** Moves a pin back to the version its current one replaced. */
export async function rollback(services: Services, actor: string, app: string, input: RollbackInput): Promise<PromotionRecord> {
  const { storage } = services;
  await requireAppAndEnvironment(services, app, input.environment);
  const region = input.region ?? null;
  const history = await storage.promotions.history(app, input.environment, region);
  const head = history.at(-1) ?? null;
  const target = rollbackTarget(history);
  if (!head || !target) throw conflict('nothing to roll back to: this target has no earlier version');
  const previous = await storage.apps.getRelease(app, target, true);
  if (!previous) throw conflict(`the previous release ${app}@${target} no longer exists`);
  if (previous.blocked) throw conflict(`the previous release ${app}@${previous.version} is blocked: ${previous.blocked.reason}`);
  const move: Move = { app, environment: input.environment, region, toVersion: previous.version, digest: previous.digest, actor, reason: input.reason, kind: 'rollback' };
  return movePin(services, move, head);
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
export async function listPromotions(services: Services, app: string, filter: { environment?: string; region?: string }): Promise<PromotionRecord[]> {
  await requireApp(services, app);
  const records = await services.storage.promotions.list(app);
  return records.filter(
    (record) => (!filter.environment || record.environment === filter.environment) && (!filter.region || record.region === filter.region),
  );
}

/** Appends the next record of a pin's history; the sequence-number condition makes exactly one concurrent writer win. */
async function movePin(services: Services, move: Move, expectedHead: PromotionRecord | null): Promise<PromotionRecord> {
  const { storage } = services;
  // A policy makes the app part of the environment; a manual one is created by the first promotion.
  await storage.environments.createPolicyIfAbsent(move.app, move.environment, null, services.now().toISOString());
  const record: PromotionRecord = {
    ...move,
    seq: (expectedHead?.seq ?? 0) + 1,
    fromVersion: expectedHead?.toVersion ?? (await currentVersion(services, move.app, move.environment, move.region)),
    at: services.now().toISOString(),
    gates: [{ name: 'release-not-blocked', passed: true, detail: `${move.toVersion} is not blocked` }],
  };
  try {
    await storage.promotions.append(record);
  } catch (err) {
    if (err instanceof ConflictError) throw conflict(err.message);
    throw err;
  }
  await refreshDesired(storage, move.app, [move.environment]);
  const rolledBack = move.kind === 'rollback';
  await recordEvent(services, {
    type: rolledBack ? 'promotion.rollback' : 'promotion.promoted',
    actor: move.actor,
    app: move.app,
    environment: move.environment,
    region: move.region ?? undefined,
    message: `${move.actor} ${rolledBack ? 'rolled back' : 'promoted'} ${move.app} in ${targetName(move.environment, move.region)} from ${record.fromVersion ?? 'nothing'} to ${record.toVersion}: ${move.reason}`,
    data: { seq: record.seq, fromVersion: record.fromVersion, toVersion: record.toVersion, kind: record.kind },
  });
  return record;
}

/** What the target ran before its first own record: the environment's version (pin or tracked). */
async function currentVersion(services: Services, app: string, environment: string, region: string | null): Promise<string | null> {
  const entry = await services.storage.desired.get(environment, app, true);
  return (entry && (region ? versionForRegion(entry, region) : entry.version)?.version) ?? null;
}
