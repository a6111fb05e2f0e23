// Environments, an app's policy in an environment, promotions and rollbacks.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import {
  Environment,
  EnvironmentSpec,
  Name,
  PolicySpec,
  PolicyView,
  PromotionInput,
  PromotionRecord,
  RollbackInput,
  list,
} from '../../lib/api/schemas.ts';
import { authorize } from '../auth/middleware.ts';
import type { AppEnv, Services } from '../context.ts';
import { refreshDesired } from '../domain/desired.ts';
import { recordEvent } from '../domain/events.ts';
import { versionForRegion } from '../domain/resolve.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import { ConflictError } from '../storage/store.ts';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi.ts';

const putEnvironment = createRoute({
  method: 'put',
  path: '/v1/environments/{env}',
  tags: ['environments'],
  summary: 'Create or update an environment (admin)',
  security: bearerSecurity,
  request: { params: z.object({ env: Name }), body: jsonBody(EnvironmentSpec) },
  responses: {
    200: jsonResponse(Environment, 'Updated'),
    201: jsonResponse(Environment, 'Created'),
    ...errorResponses(404),
  },
});

const listEnvironments = createRoute({
  method: 'get',
  path: '/v1/environments',
  tags: ['environments'],
  summary: 'List environments',
  security: bearerSecurity,
  responses: { 200: jsonResponse(list(Environment, 'EnvironmentList'), 'Environments'), ...errorResponses() },
});

const PolicyParams = z.object({ app: Name, env: Name });

const putPolicy = createRoute({
  method: 'put',
  path: '/v1/apps/{app}/environments/{env}',
  tags: ['policies'],
  summary: 'Set the policy of an app in an environment: track a semver range, or manual (admin)',
  security: bearerSecurity,
  request: { params: PolicyParams, body: jsonBody(PolicySpec) },
  responses: { 200: jsonResponse(PolicyView, 'The policy, pins and resolved versions'), ...errorResponses(404) },
});

const getPolicy = createRoute({
  method: 'get',
  path: '/v1/apps/{app}/environments/{env}',
  tags: ['policies'],
  summary: 'The policy, pins and resolved versions of an app in an environment',
  security: bearerSecurity,
  request: { params: PolicyParams },
  responses: { 200: jsonResponse(PolicyView, 'The policy'), ...errorResponses(404) },
});

const promote = createRoute({
  method: 'post',
  path: '/v1/apps/{app}/promotions',
  tags: ['promotions'],
  summary: 'Promote a version to an environment or one of its regions (promoter)',
  security: bearerSecurity,
  request: { params: z.object({ app: Name }), body: jsonBody(PromotionInput) },
  responses: { 201: jsonResponse(PromotionRecord, 'The accepted promotion record'), ...errorResponses(404, 409) },
});

const listPromotions = createRoute({
  method: 'get',
  path: '/v1/apps/{app}/promotions',
  tags: ['promotions'],
  summary: 'The promotion history of an app, oldest first',
  security: bearerSecurity,
  request: {
    params: z.object({ app: Name }),
    query: z.object({ environment: Name.optional(), region: Name.optional() }),
  },
  responses: { 200: jsonResponse(list(PromotionRecord, 'PromotionList'), 'Promotion records'), ...errorResponses(404) },
});

const rollback = createRoute({
  method: 'post',
  path: '/v1/apps/{app}/rollbacks',
  tags: ['promotions'],
  summary: 'Move a pin back to the version it replaced (promoter)',
  security: bearerSecurity,
  request: { params: z.object({ app: Name }), body: jsonBody(RollbackInput) },
  responses: { 201: jsonResponse(PromotionRecord, 'The rollback record'), ...errorResponses(404, 409) },
});

async function policyView(services: Services, app: string, environment: string) {
  const { store } = services;
  // Strongly consistent: this view is what a PUT answers with. `resolved` is read from the same
  // precomputed entry agents get, not derived a second time.
  const [policy, pins, entry] = await Promise.all([
    store.getPolicy(app, environment, true),
    store.listPins(app, environment),
    store.getDesiredEntry(environment, app, true),
  ]);
  return {
    app,
    environment,
    track: policy?.track ?? null,
    pins: pins.map((pin) => ({ region: pin.region, version: pin.toVersion, digest: pin.digest, seq: pin.seq, at: pin.at })),
    resolved: {
      version: entry?.version?.version ?? null,
      regions: Object.fromEntries(Object.entries(entry?.regions ?? {}).map(([region, pin]) => [region, pin.version])),
    },
  };
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

async function requireAppAndEnvironment(services: Services, app: string, environment: string) {
  const [found, env] = await Promise.all([services.store.getApp(app), services.store.getEnvironment(environment)]);
  if (!found) throw notFound(`app ${app}`);
  if (!env) throw notFound(`environment ${environment}`);
}

/** Appends the next record of a pin's history; the sequence-number condition makes exactly one concurrent writer win. */
async function movePin(
  services: Services,
  input: Omit<PromotionRecord, 'seq' | 'at' | 'fromVersion' | 'gates'>,
  expectedHead: PromotionRecord | null,
) {
  const { store } = services;
  // A policy makes the app part of the environment; a manual one is created by the first promotion.
  await store.createPolicyIfAbsent(input.app, input.environment, null, services.now().toISOString());
  const record: PromotionRecord = {
    ...input,
    seq: (expectedHead?.seq ?? 0) + 1,
    fromVersion: expectedHead?.toVersion ?? (await currentVersion(services, input.app, input.environment, input.region)),
    at: services.now().toISOString(),
    gates: [{ name: 'release-not-blocked', passed: true, detail: `${input.toVersion} is not blocked` }],
  };
  try {
    await store.appendPromotion(record);
  } catch (err) {
    if (err instanceof ConflictError) throw conflict(err.message);
    throw err;
  }
  await refreshDesired(store, input.app, [input.environment]);
  const target = `${input.environment}${input.region ? `/${input.region}` : ''}`;
  await recordEvent(services, {
    type: input.kind === 'rollback' ? 'promotion.rollback' : 'promotion.promoted',
    actor: input.actor,
    app: input.app,
    environment: input.environment,
    region: input.region ?? undefined,
    message: `${input.actor} ${input.kind === 'rollback' ? 'rolled back' : 'promoted'} ${input.app} in ${target} from ${record.fromVersion ?? 'nothing'} to ${record.toVersion}: ${input.reason}`,
    data: { seq: record.seq, fromVersion: record.fromVersion, toVersion: record.toVersion, kind: record.kind },
  });
  return record;
}

/** What the target ran before its first own record: the environment's version (pin or tracked). */
async function currentVersion(services: Services, app: string, environment: string, region: string | null) {
  const entry = await services.store.getDesiredEntry(environment, app, true);
  return (entry && (region ? versionForRegion(entry, region) : entry.version)?.version) ?? null;
}

export function registerEnvironmentRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(putEnvironment, async (c) => {
    const { env } = c.req.valid('param');
    const actor = authorize(c, 'admin');
    const services = c.get('services');
    const spec = c.req.valid('json');
    for (let upstream = spec.upstream, hops = 0; upstream; hops++) {
      if (upstream === env || hops > 50) throw badRequest(`body.upstream: ${spec.upstream} would make a cycle of upstreams`);
      const found = await services.store.getEnvironment(upstream, true);
      if (!found) throw notFound(`upstream environment ${upstream}`);
      upstream = found.upstream;
    }
    const { environment, created } = await services.store.putEnvironment(env, spec, services.now().toISOString());
    await recordEvent(services, {
      type: created ? 'environment.created' : 'environment.updated',
      actor,
      environment: env,
      message: `${actor} ${created ? 'created' : 'updated'} environment ${env}`,
    });
    return c.json(environment, created ? 201 : 200);
  });

  app.openapi(listEnvironments, async (c) => {
    authorize(c, 'read');
    return c.json({ items: await c.get('services').store.listEnvironments(), nextCursor: null }, 200);
  });

  app.openapi(putPolicy, async (c) => {
    const { app: name, env } = c.req.valid('param');
    const actor = authorize(c, 'admin');
    const services = c.get('services');
    await requireAppAndEnvironment(services, name, env);
    const { track } = c.req.valid('json');
    await services.store.putPolicy(name, env, track, services.now().toISOString());
    await refreshDesired(services.store, name, [env]);
    await recordEvent(services, {
      type: 'policy.updated',
      actor,
      app: name,
      environment: env,
      message: `${actor} set ${name} in ${env} to ${track ? `track ${track}` : 'manual'}`,
      data: { track },
    });
    return c.json(await policyView(services, name, env), 200);
  });

  app.openapi(getPolicy, async (c) => {
    const { app: name, env } = c.req.valid('param');
    authorize(c, 'read');
    const services = c.get('services');
    await requireAppAndEnvironment(services, name, env);
    return c.json(await policyView(services, name, env), 200);
  });

  app.openapi(promote, async (c) => {
    const { app: name } = c.req.valid('param');
    const input = c.req.valid('json');
    const actor = authorize(c, 'promote', { app: name, environment: input.environment });
    const services = c.get('services');
    await requireAppAndEnvironment(services, name, input.environment);
    const release = await services.store.getRelease(name, input.version, true);
    if (!release) throw notFound(`release ${name}@${input.version}`);
    if (release.blocked) throw conflict(`${name}@${input.version} is blocked: ${release.blocked.reason}`);
    const head = await services.store.getPinHead(name, input.environment, input.region ?? null);
    if (head?.toVersion === input.version) {
      throw conflict(`${name} is already pinned to ${input.version} in ${input.environment}${input.region ? `/${input.region}` : ''}`);
    }
    const record = await movePin(
      services,
      {
        app: name,
        environment: input.environment,
        region: input.region ?? null,
        toVersion: release.version,
        digest: release.digest,
        actor,
        reason: input.reason,
        kind: 'promote',
      },
      head,
    );
    return c.json(record, 201);
  });

  app.openapi(listPromotions, async (c) => {
    const { app: name } = c.req.valid('param');
    const { environment, region } = c.req.valid('query');
    authorize(c, 'read');
    const { store } = c.get('services');
    if (!(await store.getApp(name))) throw notFound(`app ${name}`);
    const records = (await store.listPromotions(name)).filter(
      (record) => (!environment || record.environment === environment) && (!region || record.region === region),
    );
    return c.json({ items: records, nextCursor: null }, 200);
  });

  app.openapi(rollback, async (c) => {
    const { app: name } = c.req.valid('param');
    const input = c.req.valid('json');
    const actor = authorize(c, 'promote', { app: name, environment: input.environment });
    const services = c.get('services');
    await requireAppAndEnvironment(services, name, input.environment);
    const history = await services.store.listPinHistory(name, input.environment, input.region ?? null);
    const head = history.at(-1) ?? null;
    const target = rollbackTarget(history);
    if (!head || !target) throw conflict('nothing to roll back to: this target has no earlier version');
    const previous = await services.store.getRelease(name, target, true);
    if (!previous) throw conflict(`the previous release ${name}@${target} no longer exists`);
    if (previous.blocked) throw conflict(`the previous release ${name}@${previous.version} is blocked: ${previous.blocked.reason}`);
    const record = await movePin(
      services,
      {
        app: name,
        environment: input.environment,
        region: input.region ?? null,
        toVersion: previous.version,
        digest: previous.digest,
        actor,
        reason: input.reason,
        kind: 'rollback',
      },
      head,
    );
    return c.json(record, 201);
  });
}
