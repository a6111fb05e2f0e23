// The agent protocol: registration, key rotation, cheap check-ins and reports.
import { createHash } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { AGENT_KEY_ALG } from '../../lib/agent-auth.ts';
import { AgentIdentity, AgentRegistration, AgentReport, DesiredState } from '../../lib/api/schemas.ts';
import { bearer } from '../auth/middleware.ts';
import { AuthError } from '../auth/tokens.ts';
import type { AppEnv, Services } from '../context.ts';
import { recordEvent, recordEvents, type EventInput } from '../domain/events.ts';
import { etagOf, resolveDesiredState } from '../domain/resolve.ts';
import { badRequest, conflict, unauthorized } from '../errors.ts';
import type { ClusterRecord } from '../storage/store.ts';
import { errorResponses, jsonBody, jsonResponse } from './openapi.ts';

const agentSecurity = [{ agent: [] }];

const register = createRoute({
  method: 'post',
  path: '/v1/agent/register',
  tags: ['agent'],
  summary: "Exchange a one-time registration token for the agent's own public key",
  security: [{ registration: [] }],
  request: { body: jsonBody(AgentRegistration) },
  responses: { 200: jsonResponse(AgentIdentity, 'Registered'), ...errorResponses(404) },
});

const rotateKey = createRoute({
  method: 'post',
  path: '/v1/agent/keys',
  tags: ['agent'],
  summary: 'Replace the agent key; the request is signed with the old key',
  security: agentSecurity,
  request: { body: jsonBody(AgentRegistration) },
  responses: { 200: jsonResponse(AgentIdentity, 'Rotated'), ...errorResponses(409) },
});

const desiredState = createRoute({
  method: 'get',
  path: '/v1/agent/desired-state',
  tags: ['agent'],
  summary: "The cluster's desired state; answers 304 to a matching If-None-Match",
  security: agentSecurity,
  request: { headers: z.object({ 'if-none-match': z.string().optional() }) },
  responses: {
    200: { ...jsonResponse(DesiredState, 'Desired state'), headers: { ETag: { schema: { type: 'string' } } } },
    304: { description: 'Unchanged since the ETag given' },
    ...errorResponses(),
  },
});

const report = createRoute({
  method: 'post',
  path: '/v1/agent/reports',
  tags: ['agent'],
  summary: 'Report per-app status and drift; unchanged reports write nothing until the heartbeat is due',
  security: agentSecurity,
  request: { body: jsonBody(AgentReport) },
  responses: { 202: jsonResponse(z.object({ accepted: z.boolean(), stored: z.boolean() }), 'Accepted'), ...errorResponses() },
});

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

const identity = (cluster: ClusterRecord, keyId: string, services: Services) => ({
  cluster: cluster.name,
  environment: cluster.environment,
  region: cluster.region,
  keyId,
  audience: services.tokens.audience,
});

/** If-None-Match with weak comparison (RFC 9110): `W/"x"` and lists match too, as proxies send them. */
function etagMatches(header: string | undefined, etag: string): boolean {
  return !!header && header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

const heartbeatDue = (cluster: ClusterRecord, services: Services) =>
  !cluster.lastSeen ||
  services.now().getTime() - Date.parse(cluster.lastSeen) >= services.config.heartbeatSeconds * 1000;

/** Fingerprint of the set of objects drifted and left alone: a new set is new drift to record. */
const openDriftDigest = (app: AgentReport['apps'][number]) =>
  createHash('sha256')
    .update(JSON.stringify(app.drift.filter((entry) => !entry.corrected).map((entry) => entry.object).sort()))
    .digest('base64url')
    .slice(0, 16);

/** Status summary per app, kept on the cluster item (small and bounded) for the fleet view and change detection. */
function summarize(apps: AgentReport['apps'], at: string): ClusterRecord['apps'] {
  return Object.fromEntries(
    apps.map((app) => [
      app.name,
      {
        version: app.version,
        digest: app.digest,
        phase: app.phase,
        ...(app.reason ? { reason: app.reason } : {}),
        drifted: app.drift.filter((entry) => !entry.corrected).length,
        driftDigest: openDriftDigest(app),
        at,
      },
    ]),
  );
}

/** Drift events per report are bounded; the full report stays in S3 (GET /v1/clusters/{c}/drift). */
const MAX_DRIFT_EVENTS_PER_REPORT = 50;
const MAX_VALUE_CHARS = 512;

/** Keeps event items far below DynamoDB's 400 KB: long values are cut, with a marker. */
function clip(value: unknown): unknown {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined || text.length <= MAX_VALUE_CHARS) return value;
  return `${text.slice(0, MAX_VALUE_CHARS)}… (${text.length} characters; full value in the report)`;
}

/** The audit events a report implies, compared with the previous summary. */
function reportEvents(cluster: ClusterRecord, apps: AgentReport['apps']): EventInput[] {
  const events: EventInput[] = [];
  const base = { actor: `agent:${cluster.name}`, cluster: cluster.name, environment: cluster.environment, region: cluster.region };
  let driftEvents = 0;
  for (const app of apps) {
    const previous = cluster.apps[app.name];
    const newOpenDrift = openDriftDigest(app) !== previous?.driftDigest;
    for (const entry of app.drift) {
      if (!entry.corrected && !newOpenDrift) continue;
      if (++driftEvents > MAX_DRIFT_EVENTS_PER_REPORT) break;
      events.push({
        ...base,
        type: entry.corrected ? 'drift.corrected' : 'drift.detected',
        app: app.name,
        message: `${entry.object} on ${cluster.name} drifted in ${entry.fields.map((field) => field.path).join(', ')}${entry.corrected ? '; reverted' : '; left alone (suspended)'}`,
        data: {
          object: entry.object,
          fields: entry.fields.slice(0, 20).map((field) => ({ path: field.path, before: clip(field.before), after: clip(field.after) })),
          version: app.version,
        },
      });
    }
    if (app.phase === 'Failed' && (previous?.phase !== 'Failed' || previous.reason !== app.reason)) {
      events.push({
        ...base,
        type: 'reconcile.failed',
        app: app.name,
        message: `${app.name} failed on ${cluster.name}: ${app.reason ?? 'Failed'}${app.message ? `: ${app.message}` : ''}`,
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

export function registerAgentRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(register, async (c) => {
    const services = c.get('services');
    const claims = await services.tokens.verifyRegistrationToken(bearer(c)).catch((err: unknown) => {
      throw err instanceof AuthError ? unauthorized(`registration token rejected: ${err.message}`) : err;
    });
    const { publicKey, keyId } = await checkedPublicKey(c.req.valid('json').publicKey);
    const cluster = await services.store.getCluster(claims.cluster, true);
    if (!cluster) throw unauthorized(`cluster ${claims.cluster} no longer exists`);
    // Revoking a cluster voids every registration token issued before it; only a new one re-admits it.
    if (cluster.revokedAt !== undefined && claims.issuedAt <= cluster.revokedAt) {
      throw unauthorized('registration token was issued before the cluster was revoked');
    }
    if (!(await services.store.consumeRegistrationToken(claims.id, claims.cluster, services.now()))) {
      throw unauthorized('registration token has already been used or has expired');
    }
    await services.store.setClusterKey(cluster.name, publicKey, keyId);
    await recordEvent(services, {
      type: 'cluster.registered',
      actor: `agent:${cluster.name}`,
      cluster: cluster.name,
      environment: cluster.environment,
      region: cluster.region,
      message: `agent of cluster ${cluster.name} registered key ${keyId}`,
      data: { keyId },
    });
    return c.json(identity(cluster, keyId, services), 200);
  });

  app.openapi(rotateKey, async (c) => {
    const services = c.get('services');
    const cluster = c.get('cluster');
    const { publicKey, keyId } = await checkedPublicKey(c.req.valid('json').publicKey);
    if (!(await services.store.setClusterKey(cluster.name, publicKey, keyId, cluster.keyId!))) {
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
    return c.json(identity(cluster, keyId, services), 200);
  });

  app.openapi(desiredState, async (c) => {
    const services = c.get('services');
    const cluster = c.get('cluster');
    const entries = await services.store.listDesiredEntries(cluster.environment);
    const state = resolveDesiredState(cluster, entries, services.now(), services.config.checkInIntervalSeconds);
    if (heartbeatDue(cluster, services)) await services.store.recordHeartbeat(cluster.name, services.now().toISOString());
    const etag = etagOf(state);
    c.header('ETag', etag);
    c.header('Cache-Control', 'private, no-cache');
    if (etagMatches(c.req.valid('header')['if-none-match'], etag)) return c.body(null, 304);
    return c.json(state, 200);
  });

  app.openapi(report, async (c) => {
    const services = c.get('services');
    const cluster = c.get('cluster');
    const body = c.req.valid('json');
    const names = new Set(body.apps.map((app) => app.name));
    if (names.size !== body.apps.length) throw badRequest('body.apps: each app may appear once');
    const canonical = JSON.stringify(body);
    const statusHash = createHash('sha256').update(canonical).digest('hex');
    if (statusHash === cluster.statusHash) {
      if (heartbeatDue(cluster, services)) await services.store.recordHeartbeat(cluster.name, services.now().toISOString());
      return c.json({ accepted: true, stored: false }, 202);
    }
    const issuedAt = c.get('agentTokenIssuedAt');
    if (cluster.reportIssuedAt !== undefined && issuedAt < cluster.reportIssuedAt) {
      throw conflict('a newer report of this cluster was already stored; this one is stale or replayed');
    }
    const at = services.now().toISOString();
    const reportKey = await services.blobs.putReport(cluster.name, canonical);
    // Events before the status: if either write fails the agent's retry is not "unchanged",
    // so no event is lost (at worst one is recorded twice).
    await recordEvents(services, reportEvents(cluster, body.apps));
    await services.store.recordStatus(cluster.name, { apps: summarize(body.apps, at), statusHash, reportKey, at, issuedAt });
    return c.json({ accepted: true, stored: true }, 202);
  });
}

