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
  async createRelease(app: string, input: ReleaseInput, publishedBy: string, now: string): Promise<{ release: Release; created: boolean }> {
    const release: Release = { app, ...input, publishedBy, publishedAt: now, blocked: null };
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

  /** Sets or clears the block; null if the release does not exist. */
  async setReleaseBlock(app: string, version: string, block: Release['blocked']): Promise<Release | null> {
    const ok = await this.table.set(keys.release(app, version), { blocked: block });
    return ok ? this.getRelease(app, version, true) : null;
  }
}
