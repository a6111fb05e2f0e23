// Apps and their releases: APP#<app> holds the spec (#APP) and every release (REL#<version>).
import type { App, AppSpec, Release, ReleaseInput } from '../../lib/api/schemas.ts';
import { versionSortKey } from '../../lib/semver.ts';
import { collections, keys, prefixes, type Key } from './keys.ts';
import { ConflictError, type CollectionPage, type Item, type Table } from './table.ts';

const releaseIndex = (app: string, version: string) => ({ gsi1pk: collections.releases(app), gsi1sk: versionSortKey(version) });

export class AppStorage {
  constructor(private readonly table: Table) {}

  /** Creates or replaces the app, keeping its creation time; says whether it is new. */
  async put(name: string, spec: AppSpec, now: string): Promise<{ app: App; created: boolean }> {
    const index = { type: 'app', gsi1pk: collections.apps, gsi1sk: name };
    const { value: app, created } = await this.table.replace(keys.app(name), index, (createdAt): App => ({ ...spec, name, createdAt, updatedAt: now }), now);
    // A new app has no release outside the releases collection.
    if (created) await this.table.put({ ...keys.releaseIndex(name), type: 'release-index' });
    return { app, created };
  }

  get(name: string, consistent = false) {
    return this.table.get<App>(keys.app(name), consistent);
  }

  list(page: CollectionPage) {
    return this.table.collectionPage<App>(collections.apps, page);
  }

  /** Registers a release; the same version with the same digest is idempotent, another digest is a ConflictError. */
  async createRelease(app: string, input: ReleaseInput, publishedBy: string, now: Date, eventId: string): Promise<{ release: Release; created: boolean }> {
    const release: Release = { app, ...input, publishedBy, publishedAt: now.toISOString(), eventId, blocked: null };
    if (await this.table.create({ ...keys.release(app, input.version), type: 'release', ...releaseIndex(app, input.version), ...release })) {
      return { release, created: true };
    }
    const existing = await this.getRelease(app, input.version, true);
    if (existing && existing.digest === input.digest) return { release: existing, created: false };
    throw new ConflictError(`release ${app}@${input.version} already exists with digest ${existing?.digest}; releases are immutable`);
  }

  getRelease(app: string, version: string, consistent = false) {
    return this.table.get<Release>(keys.release(app, version), consistent);
  }

  /** A page of the app's releases, newest version first. */
  async listReleasesPage(app: string, page: CollectionPage): Promise<{ items: Release[]; next: (Key & Item) | null }> {
    await this.indexReleases(app);
    return this.table.collectionPage<Release>(collections.releases(app), { ...page, newestFirst: true });
  }

  /**
   * Puts releases registered before the releases collection existed into it, once per app (they
   * lack its index attributes). Releases registered since carry them from the start.
   */
  private async indexReleases(app: string): Promise<void> {
    if (await this.table.get(keys.releaseIndex(app))) return;
    for (const release of await this.listReleases(app, true)) {
      await this.table.set(keys.release(app, release.version), releaseIndex(app, release.version));
    }
    await this.table.put({ ...keys.releaseIndex(app), type: 'release-index' });
  }

  listReleases(app: string, consistent = false) {
    return this.table.partition<Release>(keys.app(app).pk, prefixes.release, { consistent });
  }

  /**
   * Blocks a release; a release already blocked keeps its first block (a retry changes nothing).
   * Null if the release does not exist.
   */
  async block(app: string, version: string, block: NonNullable<Release['blocked']>): Promise<Release | null> {
    await this.table.set(keys.release(app, version), { blocked: block }, 'attribute_exists(pk) AND (attribute_not_exists(#blocked) OR attribute_type(#blocked, :null))', {
      values: { ':null': 'NULL' },
      names: { '#blocked': 'blocked' },
    });
    return this.getRelease(app, version, true);
  }

  /** Marks a blocked release recalled, once: a recall again keeps the first (and its event id). */
  async markRecalled(app: string, version: string, recall: NonNullable<Release['recalled']>): Promise<Release | null> {
    await this.table.set(keys.release(app, version), { recalled: recall }, 'attribute_exists(pk) AND attribute_not_exists(#recalled)', { names: { '#recalled': 'recalled' } });
    return this.getRelease(app, version, true);
  }

  /** Unblocks a blocked release, keeping who unblocked it, when and why; an unblocked one is left as it is. */
  async unblock(app: string, version: string, unblock: NonNullable<Release['blocked']>): Promise<Release | null> {
    await this.table.set(keys.release(app, version), { blocked: null, unblocked: unblock }, 'attribute_type(#blocked, :map)', {
      values: { ':map': 'M' },
      names: { '#blocked': 'blocked' },
    });
    return this.getRelease(app, version, true);
  }
}
