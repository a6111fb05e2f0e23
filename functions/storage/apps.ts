// Apps and their releases: APP#<app> holds the spec (#APP) and every release (REL#<version>).
import type { App, AppSpec, Release, ReleaseInput } from '../../lib/api/schemas.ts';
import { collections, keys, prefixes } from './keys.ts';
import { ConflictError, type Table } from './table.ts';

export class AppStorage {
  constructor(private readonly table: Table) {}

  /** Creates or replaces the app, keeping its creation time; says whether it is new. */
  async put(name: string, spec: AppSpec, now: string): Promise<{ app: App; created: boolean }> {
    const index = { type: 'app', gsi1pk: collections.apps, gsi1sk: name };
    const { value: app, created } = await this.table.replace(keys.app(name), index, (createdAt): App => ({ ...spec, name, createdAt, updatedAt: now }), now);
    return { app, created };
  }

  get(name: string, consistent = false) {
    return this.table.get<App>(keys.app(name), consistent);
  }

  list() {
    return this.table.collection<App>(collections.apps);
  }

  /** Registers a release; the same version with the same digest is idempotent, another digest is a ConflictError. */
  async createRelease(app: string, input: ReleaseInput, publishedBy: string, now: Date, eventId: string): Promise<{ release: Release; created: boolean }> {
    const release: Release = { app, ...input, publishedBy, publishedAt: now.toISOString(), eventId, blocked: null };
    if (await this.table.create({ ...keys.release(app, input.version), type: 'release', ...release })) {
      return { release, created: true };
    }
    const existing = await this.getRelease(app, input.version, true);
    if (existing && existing.digest === input.digest) return { release: existing, created: false };
    throw new ConflictError(`release ${app}@${input.version} already exists with digest ${existing?.digest}; releases are immutable`);
  }

  getRelease(app: string, version: string, consistent = false) {
    return this.table.get<Release>(keys.release(app, version), consistent);
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

  /** Unblocks a blocked release, keeping who unblocked it, when and why; an unblocked one is left as it is. */
  async unblock(app: string, version: string, unblock: NonNullable<Release['blocked']>): Promise<Release | null> {
    await this.table.set(keys.release(app, version), { blocked: null, unblocked: unblock }, 'attribute_type(#blocked, :map)', {
      values: { ':map': 'M' },
      names: { '#blocked': 'blocked' },
    });
    return this.getRelease(app, version, true);
  }
}
