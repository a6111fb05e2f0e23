// Environments (with their upstream chain) and the policy of an app in an environment.
import type { App, Environment, EnvironmentSpec, PolicyView, SignatureVerification } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { badRequest, notFound } from '../errors.ts';
import { collections } from '../storage/keys.ts';
import { refreshDesired } from './desired.ts';
import { wavePlanProblems } from './waves.ts';
import { windowProblems } from './windows.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from './paging.ts';
import { recordEvent } from './events.ts';

/** Longest upstream chain followed before calling it a cycle. */
const MAX_UPSTREAM_HOPS = 50;

export async function saveEnvironment(
  services: Services,
  actor: string,
  name: string,
  spec: EnvironmentSpec,
): Promise<{ environment: Environment; created: boolean }> {
  await checkUpstream(services, name, spec.upstream);
  await checkProgressiveDelivery(services, name, spec);
  const result = await services.storage.environments.put(name, spec, services.now().toISOString());
  await recordEvent(services, {
    type: result.created ? 'environment.created' : 'environment.updated',
    actor,
    environment: name,
    message: `${actor} ${result.created ? 'created' : 'updated'} environment ${name}`,
  });
  return result;
}

/** The upstream must exist, and following upstreams from it must never come back to `name`. */
async function checkUpstream(services: Services, name: string, first: string | null): Promise<void> {
  for (let upstream = first, hops = 0; upstream; hops++) {
    if (upstream === name || hops > MAX_UPSTREAM_HOPS) throw badRequest(`body.upstream: ${first} would make a cycle of upstreams`);
    const found = await services.storage.environments.get(upstream, true);
    if (!found) throw notFound(`upstream environment ${upstream}`);
    upstream = found.upstream;
  }
}

/** Waves and windows that cannot work are a 400 naming the field: unknown or overlapping regions, windows that never open. */
async function checkProgressiveDelivery(services: Services, name: string, spec: EnvironmentSpec): Promise<void> {
  const problems: string[] = [];
  if (spec.windows) problems.push(...windowProblems(spec.windows));
  if (spec.waves) {
    // Regions are known from the environment's clusters; before any is registered, any region may be named.
    const clusters = await services.storage.clusters.allIn(name);
    const known = clusters.length ? [...new Set(clusters.map((cluster) => cluster.region))] : spec.waves.flatMap((wave) => wave.regions ?? []);
    problems.push(...wavePlanProblems(spec.waves, known));
    // A cluster runs its region's pin before any group's: a plan mixing both could never move it.
    if (spec.waves.some((wave) => wave.regions) && spec.waves.some((wave) => wave.selector)) {
      problems.push('waves: use regions or selectors in one plan, not both');
    }
  }
  if (problems.length) throw badRequest(problems.map((problem) => `body.${problem}`).join('; '));
}

export async function listEnvironments(services: Services, page: PageRequest): Promise<Page<Environment>> {
  const { items, next } = await services.storage.environments.listPage({ limit: page.limit, start: decodeCursor(page.cursor, collections.environments) });
  return { items, nextCursor: encodeCursor(next) };
}

/** The app and the environment (strongly consistent: writes that follow build on them), or a 404. */
export async function requireAppAndEnvironment(services: Services, app: string, environment: string): Promise<{ app: App; environment: Environment }> {
  const [found, env] = await Promise.all([services.storage.apps.get(app, true), services.storage.environments.get(environment, true)]);
  if (!found) throw notFound(`app ${app}`);
  if (!env) throw notFound(`environment ${environment}`);
  return { app: found, environment: env };
}

/** Sets the policy (track a range, or manual with null) and answers with the resulting view. */
export async function setPolicy(
  services: Services,
  actor: string,
  app: string,
  environment: string,
  track: string | null,
  verify: SignatureVerification | null = null,
): Promise<PolicyView> {
  const { storage } = services;
  await requireAppAndEnvironment(services, app, environment);
  await storage.environments.putPolicy(app, environment, track, services.now().toISOString(), verify);
  await refreshDesired(storage, app, [environment]);
  await recordEvent(services, {
    type: 'policy.updated',
    actor,
    app,
    environment,
    message: `${actor} set ${app} in ${environment} to ${track ? `track ${track}` : 'manual'}${verify ? ', cosign signature required' : ''}`,
    data: { track, ...(verify ? { verify } : {}) },
  });
  return policyView(services, app, environment);
}

export async function getPolicy(services: Services, app: string, environment: string): Promise<PolicyView> {
  await requireAppAndEnvironment(services, app, environment);
  return policyView(services, app, environment);
}

/**
 * The policy, its pins and what they resolve to. Strongly consistent: this view is what a PUT
 * answers with. `resolved` is read from the same precomputed entry agents get, not derived again.
 */
async function policyView(services: Services, app: string, environment: string): Promise<PolicyView> {
  const { storage } = services;
  const [policy, pins, entry] = await Promise.all([
    storage.environments.getPolicy(app, environment, true),
    storage.promotions.pins(app, environment),
    storage.desired.get(environment, app, true),
  ]);
  return {
    app,
    environment,
    track: policy?.track ?? null,
    verify: policy?.verify ?? null,
    pins: pins.map((pin) => ({ region: pin.region, version: pin.toVersion, digest: pin.digest, seq: pin.seq, at: pin.at })),
    resolved: {
      version: entry?.version?.version ?? null,
      regions: Object.fromEntries(Object.entries(entry?.regions ?? {}).map(([region, pin]) => [region, pin.version])),
    },
  };
}
