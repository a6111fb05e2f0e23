// The agent protocol's rules: registration and key rotation, check-ins, and what a report records
// (the status summary, and the audit events it implies).
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { AGENT_KEY_ALG } from '../../lib/agent-auth.ts';
import type { AgentIdentity, AgentReport, DesiredState, Event } from '../../lib/api/schemas.ts';
import { depthOf } from '../../lib/json.ts';
import { LIMITS } from '../../lib/limits.ts';
import { truncate } from '../../lib/text.ts';
import { AuthError } from '../auth/tokens.ts';
import type { Services } from '../context.ts';
import { badRequest, conflict, unauthorized } from '../errors.ts';
import type { ClusterRecord } from '../model.ts';
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

const heartbeatDue = (services: Services, cluster: ClusterRecord) =>
  !cluster.lastSeen || services.now().getTime() - Date.parse(cluster.lastSeen) >= services.config.heartbeatSeconds * 1000;

/**
 * A check-in: the cluster's desired state, resolved from its environment's precomputed entries
 * (one query) — plus a heartbeat write when one is due. The cluster item was read by authentication.
 */
export async function checkIn(services: Services, cluster: ClusterRecord): Promise<DesiredState> {
  const { storage } = services;
  const entries = await storage.desired.list(cluster.environment);
  const state = resolveDesiredState(cluster, entries, services.now(), services.config.checkInIntervalSeconds);
  if (heartbeatDue(services, cluster)) await storage.clusters.recordHeartbeat(cluster.name, services.now().toISOString());
  return state;
}

/** How the agent ordered a report: its signed counter, else (older agents) the second it signed it. */
export interface ReportOrder {
  issuedAt: number;
  seq?: number;
}

/**
 * Stores a report: the full report in S3, then the summary on the cluster item together with the
 * outbox of the events it implies, then those events. An unchanged report (same hash) writes
 * nothing but a due heartbeat. Apps outside the cluster's desired state are ignored: an agent
 * speaks only for what it was asked to run. A crash at any point is repaired by the agent's retry:
 * before the status write nothing is in the table; after it, the outbox is flushed first.
 */
export async function acceptReport(services: Services, cluster: ClusterRecord, report: AgentReport, order: ReportOrder): Promise<{ stored: boolean }> {
  const { storage } = services;
  const names = new Set(report.apps.map((app) => app.name));
  if (names.size !== report.apps.length) throw badRequest('body.apps: each app may appear once');
  if (cluster.pendingEvents) await flushPendingEvents(services, cluster.name, cluster.pendingEvents);
  const canonical = JSON.stringify(report);
  const statusHash = createHash('sha256').update(canonical).digest('hex');
  if (statusHash === cluster.statusHash) {
    if (heartbeatDue(services, cluster)) {
      await storage.clusters.recordHeartbeat(cluster.name, services.now().toISOString());
      // Unchanged, but time passed: a soak may have ended. Only at the heartbeat, so an unchanged
      // report stays one read; the rollout clock notices the rest.
      await advanceAfterReport(services, cluster.environment, report.apps.map((app) => app.name));
    }
    return { stored: false };
  }
  if (isOlderReport(cluster, order)) throw conflict('a newer report of this cluster was already stored; this one is stale or replayed');
  const now = services.now();
  const at = now.toISOString();
  const desired = new Set(resolveDesiredState(cluster, await storage.desired.list(cluster.environment), now, 0).apps.map((app) => app.name));
  const apps = report.apps.filter((app) => desired.has(app.name));
  const reportKey = await storage.reports.put(cluster.name, apps.length === report.apps.length ? canonical : JSON.stringify({ ...report, apps }));
  const events = reportEvents(cluster, apps).map((input) => ({ ...input, id: newEventId(now), at }));
  const pendingEvents = events.length ? await storage.reports.putPendingEvents(cluster.name, statusHash, events) : null;
  const stored = await storage.clusters.recordStatus(cluster.name, { apps: summarize(cluster.apps, apps, at), statusHash, reportKey, at, issuedAt: order.issuedAt, seq: order.seq, pendingEvents });
  // The write itself checks the order (and that the cluster is not revoked): a newer report that
  // landed since the cluster item was read wins, whatever the order the two arrive in.
  if (!stored) throw conflict('a newer report of this cluster was already stored, or the cluster was revoked; this one is not stored');
  if (pendingEvents) await flushPendingEvents(services, cluster.name, pendingEvents, events);
  // Progress of rollouts is computed when agents report: nothing needs to run between requests.
  await advanceAfterReport(services, cluster.environment, apps.map((app) => app.name));
  return { stored: true };
}

/** A report the agent made before the last stored one: by its counter when both have one, else by the signing second. */
function isOlderReport(cluster: ClusterRecord, order: ReportOrder): boolean {
  if (order.seq !== undefined && cluster.reportSeq !== undefined) return order.seq <= cluster.reportSeq;
  return cluster.reportIssuedAt !== undefined && order.issuedAt < cluster.reportIssuedAt;
}

/** Writes the outbox's events (their ids fixed when stored, so again is harmless), then empties it. */
async function flushPendingEvents(services: Services, cluster: string, key: string, known?: Event[]): Promise<void> {
  const events = known ?? (await services.storage.reports.get<Event[]>(key)) ?? [];
  await services.storage.events.putMany(events);
  await services.storage.clusters.clearPendingEvents(cluster, key);
}

/** Fingerprint of the set of objects drifted and left alone: a new set is new drift to record. */
const openDriftDigest = (app: AppReport) =>
  createHash('sha256')
    .update(JSON.stringify(app.drift.filter((entry) => !entry.corrected).map((entry) => entry.object).sort()))
    .digest('base64url')
    .slice(0, 16);

/**
 * Status summary per app, kept on the cluster item (small and bounded) for the fleet view, change
 * detection and gates: `readySince` is when the app became Ready at this version, kept while it stays so.
 */
function summarize(previous: ClusterRecord['apps'], apps: AppReport[], at: string): ClusterRecord['apps'] {
  return Object.fromEntries(
    apps.map((app) => {
      const before = previous[app.name];
      const stillReady = before?.phase === 'Ready' && before.version === app.version;
      const readySince = app.phase === 'Ready' ? (stillReady ? (before.readySince ?? before.at) : at) : undefined;
      return [
        app.name,
        {
          version: app.version,
          digest: app.digest,
          phase: app.phase,
          ...(app.reason ? { reason: app.reason } : {}),
          drifted: app.drift.filter((entry) => !entry.corrected).length,
          driftDigest: openDriftDigest(app),
          at,
          ...(readySince ? { readySince } : {}),
        },
      ];
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
export function reportEvents(cluster: ClusterRecord, apps: AppReport[]): EventInput[] {
  const events: EventInput[] = [];
  const base = { actor: `agent:${cluster.name}`, cluster: cluster.name, environment: cluster.environment, region: cluster.region };
  let driftEvents = 0;
  for (const app of apps) {
    const previous = cluster.apps[app.name];
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
  for (const name of Object.keys(cluster.apps)) {
    if (!apps.some((app) => app.name === name)) {
      events.push({ ...base, type: 'reconcile.removed', app: name, message: `${name} was removed from ${cluster.name}` });
    }
  }
  return events;
}
