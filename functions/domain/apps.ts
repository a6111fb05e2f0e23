// Apps and their releases: registration is idempotent, releases are immutable, block is the only change.
import type { App, AppSpec, Release, ReleaseInput } from '../../lib/api/schemas.ts';
import { compareVersions } from '../../lib/semver.ts';
import type { Services } from '../context.ts';
import { conflict, notFound } from '../errors.ts';
import { ConflictError } from '../storage/index.ts';
import { refreshDesired } from './desired.ts';
import { recordEvent } from './events.ts';

export async function saveApp(services: Services, actor: string, name: string, spec: AppSpec): Promise<{ app: App; created: boolean }> {
  const { storage } = services;
  const result = await storage.apps.put(name, spec, services.now().toISOString());
  await refreshDesired(storage, name);
  await recordEvent(services, {
    type: result.created ? 'app.created' : 'app.updated',
    actor,
    app: name,
    message: `${actor} ${result.created ? 'created' : 'updated'} app ${name}`,
  });
  return result;
}

export function listApps(services: Services): Promise<App[]> {
  return services.storage.apps.list();
}

export async function requireApp(services: Services, name: string): Promise<App> {
  const app = await services.storage.apps.get(name);
  if (!app) throw notFound(`app ${name}`);
  return app;
}

/** Registers a release; the same version and digest again is the same release (created: false). */
export async function registerRelease(
  services: Services,
  actor: string,
  app: string,
  input: ReleaseInput,
): Promise<{ release: Release; created: boolean }> {
  const { storage } = services;
  await requireApp(services, app);
  let result;
  try {
    result = await storage.apps.createRelease(app, input, actor, services.now().toISOString());
  } catch (err) {
    if (err instanceof ConflictError) throw conflict(err.message);
    throw err;
  }
  // Also on the idempotent path: a retry after a failed rebuild repairs the desired state.
  await refreshDesired(storage, app);
  if (result.created) {
    await recordEvent(services, {
      type: 'release.published',
      actor,
      app,
      message: `${actor} published ${app}@${input.version} (${input.digest})`,
      data: { version: input.version, digest: input.digest },
    });
  }
  return result;
}

/** Newest version first. */
export async function listReleases(services: Services, app: string): Promise<Release[]> {
  await requireApp(services, app);
  const releases = await services.storage.apps.listReleases(app);
  return releases.sort((a, b) => compareVersions(b.version, a.version));
}

export async function requireRelease(services: Services, app: string, version: string, consistent = false): Promise<Release> {
  const release = await services.storage.apps.getRelease(app, version, consistent);
  if (!release) throw notFound(`release ${app}@${version}`);
  return release;
}

/** Blocks (tracking skips it, promotion refuses it) or unblocks a release. */
export async function setReleaseBlocked(
  services: Services,
  actor: string,
  target: { app: string; version: string },
  blocked: boolean,
  reason: string,
): Promise<Release> {
  const { storage } = services;
  const { app, version } = target;
  const block = blocked ? { reason, by: actor, at: services.now().toISOString() } : null;
  const release = await storage.apps.setReleaseBlock(app, version, block);
  if (!release) throw notFound(`release ${app}@${version}`);
  await refreshDesired(storage, app);
  await recordEvent(services, {
    type: blocked ? 'release.blocked' : 'release.unblocked',
    actor,
    app,
    message: `${actor} ${blocked ? 'blocked' : 'unblocked'} ${app}@${version}: ${reason}`,
    data: { version, reason },
  });
  return release;
}
