// The precomputed desired entry of each app in each environment (ENV#<env> / DESIRED#<app>): what
// check-ins read. `rev` announces a change, `builtRev` says which announcement the entry was built after.
import type { DesiredEntry } from '../model.ts';
import { environmentPartition, keys, prefixes } from './keys.ts';
import type { Table } from './table.ts';

export class DesiredStorage {
  /** Per environment: its entries as read, and when (epoch ms). Per process: a warm Lambda keeps it. */
  private readonly cache = new Map<string, { entries: DesiredEntry[]; readAt: number }>();

  constructor(private readonly table: Table) {}

  /**
   * The environment's entries as read at most `maxAgeMs` ago by this process: what check-ins
   * resolve from. Writes through this process drop the environment's entries at once; another
   * process (another Lambda container) sees them within `maxAgeMs`.
   */
  async listCached(environment: string, now: number, maxAgeMs: number): Promise<DesiredEntry[]> {
    const cached = this.cache.get(environment);
    if (cached && now - cached.readAt < maxAgeMs && now >= cached.readAt) return cached.entries;
    const entries = await this.list(environment);
    // Bounded: one entry per environment, and environments are few; never more than a thousand.
    if (this.cache.size >= 1000) this.cache.clear();
    this.cache.set(environment, { entries, readAt: now });
    return entries;
  }

  /** Announces a change to (app, environment); returns the revision the next rebuild must carry. */
  bumpRevision(environment: string, app: string): Promise<number> {
    return this.table.increment(keys.desired(environment, app), 'rev', { type: 'desired' });
  }

  /**
   * Stores the entry built from state read after revision `rev` was announced. A rebuild that
   * started earlier than one already stored loses the condition, so the newest state always wins.
   */
  put(environment: string, app: string, rev: number, entry: DesiredEntry | null): Promise<boolean> {
    this.cache.delete(environment);
    return this.table.set(keys.desired(environment, app), { entry, builtRev: rev }, 'attribute_not_exists(#builtRev) OR #builtRev < :rev', {
      values: { ':rev': rev },
      names: { '#builtRev': 'builtRev' },
    });
  }

  /** The entry of one app in one environment; null when it is not deployed there. */
  async get(environment: string, app: string, consistent = false): Promise<DesiredEntry | null> {
    const item = await this.table.get<{ entry?: DesiredEntry | null }>(keys.desired(environment, app), consistent);
    return item?.entry ?? null;
  }

  /** One query: every app's entry in the environment (eventually consistent, as check-ins allow). */
  async list(environment: string): Promise<DesiredEntry[]> {
    const items = await this.table.partition<{ entry?: DesiredEntry | null }>(environmentPartition(environment), prefixes.desired);
    return items.flatMap((item) => (item.entry ? [item.entry] : []));
  }
}
