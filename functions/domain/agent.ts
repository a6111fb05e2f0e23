// The agent protocol's rules: registration and key rotation, check-ins, and what a report records
// (the status summary, and the audit events it implies).
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { AGENT_KEY_ALG } from '../../lib/agent-auth.ts';
import type { AgentIdentity, AgentReport, DesiredState, Event } from '../../lib/api/schemas.ts';
import { depthOf } from '../../lib/json.ts';
import { LIMITS } from '../../lib/limits.ts';
import { truncate } from '../../lib/text.ts';
import { AuthError } from '../auth/tokens.ts';
import type { Services } from '../context.ts';
import { badRequest, conflict, unauthorized } from '../errors.ts';
import type { AppStatusRecord, ClusterRecord, ClusterStatusRecord, ReportOrder } from '../model.ts';
import { contribution, type Contribution } from '../storage/fleet.ts';
import { newEventId, recordEvent, recordEvents, type EventInput } from './events.ts';
import { resolveDesiredState } from './resolve.ts';
import { advanceAfterReport } from './rollouts.ts';

type AppReport = AgentReport['apps'][number];

/** Exchanges a one-time registration token for the agent's own public key. */
export async function registerAgent(services: Services, registrationToken: string, jwk: Record<string, unknown>): Promise<AgentIdentity> {
  const { storage } = services;
  const claims = await services.tokens.verifyRegistrationToken(registrationToken).catch((err: unknown) => {
    throw err instanceof AuthError ? unauthorized(`registration token rejected: ${err.message}`) : err;
  });
  const { publicKey, keyId } = await checkedPublicKey(jwk);
  const cluster = await storage.clusters.get(claims.cluster, true);
  if (!cluster) throw unauthorized(`cluster ${claims.cluster} no longer exists`);
  // Revoking a cluster voids every registration token issued before it; only a new one re-admits it.
  if (cluster.revokedAt !== undefined && claims.issuedAt <= cluster.revokedAt) {
    throw unauthorized('registration token was issued before the cluster was revoked');
  }
  const consumed =
    (await storage.tokens.consumeRegistrationToken(claims.id, claims.cluster, keyId, services.now(), newEventId(services.now()))) ??
    (await completedRegistration(services, claims.id, cluster, keyId));
  if (!consumed) throw unauthorized('registration token has already been used or has expired');
  if (!consumed.completed) {
    // Conditional on no revocation since the token was issued: a revocation racing this one wins.
    if (!(await storage.clusters.register(cluster.name, publicKey, keyId, claims.issuedAt))) {
      throw unauthorized('registration token was issued before the cluster was revoked');
    }
    await storage.tokens.markInstalled(claims.id);
  }
  await recordEvent(
    services,
    {
      type: 'cluster.registered',
      actor: `agent:${cluster.name}`,
      cluster: cluster.name,
      environment: cluster.environment,
      region: cluster.region,
      message: `agent of cluster ${cluster.name} registered key ${keyId}`,
      data: { keyId },
      at: consumed.usedAt,
    },
    consumed.eventId,
  );
  return identity(services, cluster, keyId);
}

/**
 * A registration retried after it completed (its answer lost to a crash or the network): the
 * token was used by this very key and that key is the cluster's current one. Anything else
 * (another key, a key rotated away since, a revoked cluster) is a used token.
 */
async function completedRegistration(services: Services, tokenId: string, cluster: ClusterRecord, keyId: string) {
  const token = await services.storage.tokens.getRegistrationToken(tokenId);
  if (!token?.installed || token.keyId !== keyId || cluster.keyId !== keyId || cluster.revoked || !token.usedAt || !token.eventId) return null;
  return { usedAt: token.usedAt, eventId: token.eventId, completed: true };
}

/** Replaces the agent key; the caller has been authenticated with the old one. */
export async function rotateAgentKey(services: Services, cluster: ClusterRecord, jwk: Record<string, unknown>): Promise<AgentIdentity> {
  const { publicKey, keyId } = await checkedPublicKey(jwk);
  if (!(await services.storage.clusters.rotateKey(cluster.name, publicKey, keyId, cluster.keyId!))) {
    throw conflict('the key was rotated or revoked concurrently; sign with the current key');
  }
  await recordEvent(services, {
    type: 'cluster.key-rotated',
    actor: `agent:${cluster.name}`,
    cluster: cluster.name,
    environment: cluster.environment,
    message: `agent of cluster ${cluster.name} rotated its key to ${keyId}`,
    data: { previousKeyId: cluster.keyId, keyId },
  });
  return identity(services, cluster, keyId);
}

async function checkedPublicKey(jwk: Record<string, unknown>): Promise<{ publicKey: JWK; keyId: string }> {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || 'd' in jwk) {
    throw badRequest('body.publicKey: must be a public Ed25519 JWK (kty OKP, crv Ed25519, x; no private part)');
  }
  const publicKey: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
  await importJWK(publicKey, AGENT_KEY_ALG).catch(() => {
    throw badRequest('body.publicKey: not a valid Ed25519 key');
  });
  return { publicKey, keyId: await calculateJwkThumbprint(publicKey) };
}

function identity(services: Services, cluster: ClusterRecord, keyId: string): AgentIdentity {
  return { cluster: cluster.name, environment: cluster.environment, region: cluster.region, keyId, audience: services.tokens.audience };
}

const heartbeatDue = (services: Services, status: ClusterStatusRecord) =>
  !status.lastSeen || services.now().getTime() - Date.parse(status.lastSeen) >= services.config.heartbeatSeconds * 1000;

/**
 * A check-in: the cluster's desired state, resolved from its environment's precomputed entries
 * (held a few seconds per process, so a check-in reads nothing but the cluster item authentication
 * read). It writes nothing, unless the agent says its heartbeat is due (`heartbeat`, every
 * `heartbeatSeconds`, which the document tells it): then one small item, one write unit.
 */
export async function checkIn(services: Services, cluster: ClusterRecord, { heartbeat = false } = {}): Promise<DesiredState> {
  const now = services.now();
  const [entries] = await Promise.all([
    services.storage.desired.listCached(cluster.environment, now.getTime(), services.config.desiredCacheSeconds * 1000),
    heartbeat ? services.storage.clusters.recordHeartbeat(cluster.name, now.toISOString()) : null,
  ]);
  return resolveDesiredState(cluster, entries, now, services.config.checkInIntervalSeconds, services.config.heartbeatSeconds);
}

/** How long a report may hold its cluster's claim: well past the longest a request runs (the Lambda timeout). */
const REPORT_CLAIM_MS = 60_000;

/**
 * Stores a report. An unchanged one (same hash as the last stored) writes only a due heartbeat:
 * one small item. A changed one claims the cluster's status (newer than the stored report, no
 * other report being stored), writes the full report to S3 and its events to the outbox, moves the
 * fleet counts of the apps that changed, writes only those apps' status items, then records the
 * report and releases the claim; then the outbox's events. Apps outside the cluster's desired
 * state are ignored: an agent speaks only for what it was asked to run. A crash at any point is
 * repaired by the agent's retry (same content takes over its own claim); the clock recounts the
 * fleet cells a crash left off.
 */
export async function acceptReport(services: Services, cluster: ClusterRecord, report: AgentReport, order: ReportOrder): Promise<{ stored: boolean }> {
  const { storage } = services;
  const names = new Set(report.apps.map((app) => app.name));
  if (names.size !== report.apps.length) throw badRequest('body.apps: each app may appear once');
  const canonical = JSON.stringify(report);
  const statusHash = createHash('sha256').update(canonical).digest('hex');
  let status = await storage.clusters.status(cluster.name, true);
  if (status.pendingEvents) await flushPendingEvents(services, cluster.name, status.pendingEvents);
  if (statusHash === status.statusHash) {
    if (heartbeatDue(services, status)) {
      await storage.clusters.recordHeartbeat(cluster.name, services.now().toISOString());
      // Unchanged, but time passed: a soak may have ended. Only at the heartbeat; the clock notices the rest.
      await advanceAfterReport(services, cluster.environment, report.apps.map((app) => app.name));
    }
    return { stored: false };
  }
  if (isOlderReport(status, order)) throw conflict('a newer report of this cluster was already stored; this one is stale or replayed');
  // One consistent read of the cluster's partition: the cluster (a revocation since authentication
  // counts), its status and its apps' statuses, which this report is compared with.
  const state = await storage.clusters.state(cluster.name, true);
  if (!state || state.cluster.revoked) throw conflict('the cluster was revoked; this report is not stored');
  ({ status } = state);
  const current = state.cluster;
  const now = services.now();
  const at = now.toISOString();
  // A claim of this same report (a retry after a crash) keeps its outbox: its events were computed
  // against the statuses before any of them was written. A lapsed claim of another report hands
  // over its events before this one is compared.
  const resumed = status.claim?.hash === statusHash ? status.claim : null;
  if (status.claim && !resumed && status.claim.until < now.getTime() && status.claim.pendingEvents) {
    await storage.events.putMany((await storage.reports.get<Event[]>(status.claim.pendingEvents)) ?? []);
  }
  const desired = new Set(resolveDesiredState(current, await storage.desired.list(current.environment), now, 0).apps.map((app) => app.name));
  const apps = report.apps.filter((app) => desired.has(app.name));
  const previous = state.apps;
  const reportKey = await storage.reports.put(cluster.name, apps.length === report.apps.length ? canonical : JSON.stringify({ ...report, apps }));
  const events = resumed ? undefined : reportEvents(current, previous, apps).map((input) => ({ ...input, id: newEventId(now), at }));
  const pendingEvents = resumed ? resumed.pendingEvents : events!.length ? await storage.reports.putPendingEvents(cluster.name, statusHash, events!) : null;
  const claim = { id: randomUUID(), hash: statusHash, until: now.getTime() + REPORT_CLAIM_MS, pendingEvents };
  if (!(await storage.clusters.claimReport(cluster.name, claim, order, status.statusHash, now.getTime()))) {
    throw conflict('a newer report of this cluster was stored, or another one is being stored; send it again');
  }
  const next = summarize(current, previous, apps, at);
  const changed = Object.values(next).filter((summary) => !sameStatus(previous[summary.app], summary));
  const removed = Object.values(previous).filter((summary) => !Object.hasOwn(next, summary.app));
  // Counts first: a crash after them leaves the cells marked changed, and the clock recounts them.
  // A status recorded where the cluster was (a move whose clean-up a crash cut short) leaves that cell.
  const cellOf = (summary: AppStatusRecord) => `${summary.environment ?? current.environment}#${summary.region}`;
  await Promise.all([
    ...changed.flatMap((summary) => {
      const before = previous[summary.app];
      return before && cellOf(before) !== cellOf(summary)
        ? [moveCount(services, before.environment ?? current.environment, summary.app, before.region, contribution(before), null), moveCount(services, current.environment, summary.app, current.region, null, contribution(summary))]
        : [moveCount(services, current.environment, summary.app, current.region, contribution(before), contribution(summary))];
    }),
    ...removed.map((summary) => moveCount(services, summary.environment ?? current.environment, summary.app, summary.region, contribution(summary), null)),
  ]);
  await Promise.all([
    ...changed.map((summary) => storage.clusters.putAppStatus(current.environment, summary)),
    ...removed.map((summary) => storage.clusters.deleteAppStatus(cluster.name, summary.app)),
  ]);
  if (!(await storage.clusters.finishReport(cluster.name, claim.id, { statusHash, reportKey, at, order, pendingEvents }))) {
    throw conflict('another report of this cluster took over while this one was stored; send it again');
  }
  if (pendingEvents) await flushPendingEvents(services, cluster.name, pendingEvents, events);
  // Progress of rollouts is computed when agents report: nothing needs to run between requests.
  await advanceAfterReport(services, current.environment, apps.map((app) => app.name));
  return { stored: true };
}

/** A report the agent made before the last stored one: by its counter when both have one, else by the signing second. */
function isOlderReport(status: ClusterStatusRecord, order: ReportOrder): boolean {
  if (order.seq !== undefined && status.reportSeq !== undefined) return order.seq <= status.reportSeq;
  return status.reportIssuedAt !== undefined && order.issuedAt < status.reportIssuedAt;
}

/** Writes the outbox's events (their ids fixed when stored, so again is harmless), then empties it. */
async function flushPendingEvents(services: Services, cluster: string, key: string, known?: Event[]): Promise<void> {
  const events = known ?? (await services.storage.reports.get<Event[]>(key)) ?? [];
  await services.storage.events.putMany(events);
  await services.storage.clusters.clearPendingEvents(cluster, key);
}


/**
 * Moves a cell's counts. Should the cell refuse the update (DynamoDB's 400 KB, after a flood of
 * distinct versions from one agent), it is recounted at once instead: the recount writes it whole,
 * from the status items, so it is small again and exact.
 */
async function moveCount(services: Services, environment: string, app: string, region: string, from: Contribution | null, to: Contribution | null): Promise<void> {
  const { fleet, clusters } = services.storage;
  const now = services.now().getTime();
  try {
    await fleet.move(environment, app, region, from, to, now);
  } catch (err) {
    if ((err as { name?: string }).name !== 'ValidationException') throw err;
    const statuses = (await clusters.appStatuses(environment, app, region)).map((status) => contribution(status)!);
    await fleet.rewrite(environment, app, region, statuses, now);
  }
}

/** Same status but for when it was reported: nothing to write. */
function sameStatus(before: AppStatusRecord | undefined, after: AppStatusRecord): boolean {
  if (!before) return false;
  const { at: _a, ...rest } = after;
  const { at: _b, ...old } = before;
  return JSON.stringify(Object.entries(rest).sort()) === JSON.stringify(Object.entries(old).sort());
}

/** Fingerprint of the set of objects drifted and left alone: a new set is new drift to record. */
const openDriftDigest = (app: AppReport) =>
  createHash('sha256')
    .update(JSON.stringify(app.drift.filter((entry) => !entry.corrected).map((entry) => entry.object).sort()))
    .digest('base64url')
    .slice(0, 16);

/**
 * Status per app, one item each: `readySince` is when the app became Ready at this version, kept
 * while it stays so; `at` is when its status last changed.
 */
function summarize(cluster: ClusterRecord, previous: Record<string, AppStatusRecord>, apps: AppReport[], at: string): Record<string, AppStatusRecord> {
  return Object.fromEntries(
    apps.map((app) => {
      const before = previous[app.name];
      const stillReady = before?.phase === 'Ready' && before.version === app.version;
      const readySince = app.phase === 'Ready' ? (stillReady ? (before.readySince ?? before.at) : at) : undefined;
      const summary: AppStatusRecord = {
        app: app.name,
        cluster: cluster.name,
        environment: cluster.environment,
        region: cluster.region,
        version: app.version,
        digest: app.digest,
        phase: app.phase,
        ...(app.reason ? { reason: app.reason } : {}),
        drifted: app.drift.filter((entry) => !entry.corrected).length,
        driftDigest: openDriftDigest(app),
        at,
        ...(readySince ? { readySince } : {}),
      };
      return [app.name, sameStatus(before, summary) ? before! : summary];
    }),
  );
}

/**
 * Keeps event items far below DynamoDB's 400 KB and 32 levels: long values are cut, with a marker,
 * and deeply nested ones kept as JSON text.
 */
function eventValue(value: unknown): unknown {
  const shallow = depthOf(value) <= LIMITS.maxEventValueDepth ? storableNumbers(value) : JSON.stringify(value);
  return truncate(shallow, LIMITS.maxEventValueChars, '… ({length} characters; full value in the report)');
}

/** DynamoDB stores numbers JavaScript holds exactly: others (beyond 2^53, infinite) are kept as their text. */
function storableNumbers(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value)) ? value : String(value);
  if (Array.isArray(value)) return value.map(storableNumbers);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, storableNumbers(child)]));
  return value;
}

const eventMessage = (message: string) => String(truncate(message, LIMITS.maxEventMessageChars, '…'));

/**
 * The audit events a report implies, compared with the previous summary: every corrected drift,
 * open drift when the set of drifted objects changed, a failure when the phase or reason is new,
 * Ready when reached or at a new version, and apps that left the cluster. Drift events per report
 * are bounded; the full report stays in S3 (GET /v1/clusters/{c}/drift).
 */
export function reportEvents(cluster: ClusterRecord, previousApps: Record<string, AppStatusRecord>, apps: AppReport[]): EventInput[] {
  const events: EventInput[] = [];
  const base = { actor: `agent:${cluster.name}`, cluster: cluster.name, environment: cluster.environment, region: cluster.region };
  let driftEvents = 0;
  for (const app of apps) {
    const previous = previousApps[app.name];
    const newOpenDrift = openDriftDigest(app) !== previous?.driftDigest;
    for (const entry of app.drift) {
      if (!entry.corrected && !newOpenDrift) continue;
      if (++driftEvents > LIMITS.maxDriftEventsPerReport) break;
      events.push({
        ...base,
        type: entry.corrected ? 'drift.corrected' : 'drift.detected',
        app: app.name,
        message: eventMessage(`${entry.object} on ${cluster.name} drifted in ${entry.fields.map((field) => field.path).join(', ')}${entry.corrected ? '; reverted' : '; left alone (suspended)'}`),
        data: {
          object: entry.object,
          fields: entry.fields
            .slice(0, LIMITS.maxEventDriftFields)
            .map((field) => ({ path: String(truncate(field.path, 256, '…')), before: eventValue(field.before), after: eventValue(field.after) })),
          version: app.version,
        },
      });
    }
    if (app.phase === 'Failed' && (previous?.phase !== 'Failed' || previous.reason !== app.reason)) {
      events.push({
        ...base,
        type: 'reconcile.failed',
        app: app.name,
        message: eventMessage(`${app.name} failed on ${cluster.name}: ${app.reason ?? 'Failed'}${app.message ? `: ${app.message}` : ''}`),
        data: { version: app.version, reason: app.reason, message: app.message },
      });
    }
    if (app.phase === 'Ready' && (previous?.phase !== 'Ready' || previous.version !== app.version)) {
      events.push({
        ...base,
        type: 'reconcile.ready',
        app: app.name,
        message: `${app.name}@${app.version} is Ready on ${cluster.name}`,
        data: { version: app.version, digest: app.digest },
      });
    }
  }
  for (const name of Object.keys(previousApps)) {
    if (!apps.some((app) => app.name === name)) {
      events.push({ ...base, type: 'reconcile.removed', app: name, message: `${name} was removed from ${cluster.name}` });
    }
  }
  return events;
}
