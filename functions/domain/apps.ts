// Apps and their releases: registration is idempotent, releases are immutable, block is the only change.
import type { App, AppSpec, Release, ReleaseInput } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { conflict, notFound } from '../errors.ts';
import { ConflictError } from '../storage/index.ts';
import { collections } from '../storage/keys.ts';
import { refreshDesired } from './desired.ts';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from './paging.ts';
import { newEventId, recordEvent } from './events.ts';
import { recall } from './recall.ts';
import { checkDependencies } from './dependencies.ts';

export async function saveApp(services: Services, actor: string, name: string, spec: AppSpec): Promise<{ app: App; created: boolean }> {
  const { storage } = services;
  await checkDependencies(services, name, spec.dependsOn ?? []);
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

export async function listApps(services: Services, page: PageRequest): Promise<Page<App>> {
  const { items, next } = await services.storage.apps.list({ limit: page.limit, start: decodeCursor(page.cursor, collections.apps) });
  return { items, nextCursor: encodeCursor(next) };
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
    const now = services.now();
    result = await storage.apps.createRelease(app, input, actor, now, newEventId(now));
  } catch (err) {
    if (err instanceof ConflictError) throw conflict(err.message);
    throw err;
  }
  // Also on the idempotent path: a retry after a crash repairs the desired state and the event.
  await refreshDesired(storage, app);
  const { release } = result;
  if (!release.eventId) return result;
  await recordEvent(
    services,
    {
      type: 'release.published',
      actor: release.publishedBy,
      app,
      message: `${release.publishedBy} published ${app}@${release.version} (${release.digest})`,
      data: { version: release.version, digest: release.digest },
      at: release.publishedAt,
    },
    release.eventId,
  );
  return result;
}

/** Newest version first. */
export async function listReleases(services: Services, app: string, page: PageRequest): Promise<Page<Release>> {
  await requireApp(services, app);
  const { items, next } = await services.storage.apps.listReleasesPage(app, { limit: page.limit, start: decodeCursor(page.cursor, collections.releases(app)) });
  return { items, nextCursor: encodeCursor(next) };
}

export async function requireRelease(services: Services, app: string, version: string, consistent = false): Promise<Release> {
  const release = await services.storage.apps.getRelease(app, version, consistent);
  if (!release) throw notFound(`release ${app}@${version}`);
  return release;
}

/**
 * Blocks (tracking skips it, promotion refuses it, pins fall back from it) or unblocks a release.
 * Both are idempotent: again on a release already in that state changes nothing, but repairs the
 * desired state and the event a crash may have left out.
 */
export async function setReleaseBlocked(
  services: Services,
  actor: string,
  target: { app: string; version: string },
  blocked: boolean,
  reason: string,
  withRecall = false,
): Promise<Release> {
  const { storage } = services;
  const { app, version } = target;
  const now = services.now();
  const change = { reason, by: actor, at: now.toISOString(), eventId: newEventId(now) };
  const release = blocked ? await storage.apps.block(app, version, change) : await storage.apps.unblock(app, version, change);
  if (!release) throw notFound(`release ${app}@${version}`);
  await refreshDesired(storage, app);
  const done = blocked ? release.blocked : release.unblocked;
  if (done?.eventId) {
    const verb = blocked ? 'blocked' : 'unblocked';
    await recordEvent(
      services,
      { type: `release.${verb}`, actor: done.by, app, message: `${done.by} ${verb} ${app}@${version}: ${done.reason}`, data: { version, reason: done.reason }, at: done.at },
      done.eventId,
    );
  }
  return blocked && withRecall ? recall(services, actor, release, reason) : release;
}
